#!/usr/bin/env bash
# The main job: runs Notebooks/01-quickstart.alnb on the embedded texture world with the tiny CLIP
# (zero-shot accuracy and its bias, entropy before and after calibration, a CEC query as a thumbnail sheet,
# learning curves of CEC against random) and prints where the rendered report with its plots is.
# Extra arguments go to `alvlm run`, e.g. `Scripts/quickstart.sh -p seeds=5`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift build -c release --product alvlm >&2
out=.quickstart
mkdir -p "$out"
.build/release/alvlm run Notebooks/01-quickstart.alnb -o "$out/01-quickstart.md" --ipynb "$out/01-quickstart.ipynb" "$@"
echo "report: $out/01-quickstart.md (figures in $out/01-quickstart_files/, notebook $out/01-quickstart.ipynb)"
