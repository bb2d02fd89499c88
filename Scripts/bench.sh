#!/usr/bin/env bash
# Same-run comparison of alvlm with the PyTorch reference (run by hand, not in CI: it needs the reference venv).
#   Scripts/bench.sh encode|coop [ROUNDS]
# Alternates the two programs ROUNDS times (default 3) so both see the same machine load, and prints every
# JSON line plus the best of each. PYTHON names the reference interpreter (default /work/refenv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-encode}"; rounds="${2:-3}"
python="${PYTHON:-/work/refenv/bin/python}"
swift build -c release --product alvlm >&2
log=$(mktemp)
for _ in $(seq "$rounds"); do
    case "$what" in
        encode)
            .build/release/alvlm bench encode --random vit-b-16 --images 24 --batch 8 | tee -a "$log"
            "$python" Scripts/bench_reference.py --skip-coop | grep images_per_second | tee -a "$log" ;;
        coop)
            .build/release/alvlm bench coop --random vit-b-16 --classes 47 --batch 32 --steps 5 | tee -a "$log"
            "$python" Scripts/bench_reference.py --skip-image | grep coop | tee -a "$log" ;;
        *) echo "usage: Scripts/bench.sh encode|coop [ROUNDS]" >&2; exit 2 ;;
    esac
done
python3 - "$log" "$what" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
if sys.argv[2] == "encode":
    ours = max(r["images_per_second"] for r in rows if r.get("bench") == "encode")
    ref = max(r["images_per_second"] for r in rows if r.get("reference") == "transformers")
    peak = max(r["fraction_of_peak"] for r in rows if r.get("bench") == "encode")
    print(f"best: alvlm {ours:.2f} images/s, transformers {ref:.2f} images/s, ratio {ours / ref:.2f}; best fraction of sgemm peak {peak:.2f}")
else:
    ours = min(r["seconds_per_step"] for r in rows if r.get("bench") == "coop")
    full = min(r["results"]["77_tokens"]["seconds_per_step"] for r in rows if "results" in r)
    trunc = min(v["seconds_per_step"] for r in rows if "results" in r for k, v in r["results"].items() if k.startswith("truncated"))
    print(f"best: alvlm {ours:.3f} s/step, reference CoOp (77 tokens) {full:.3f} s/step ({full / ours:.1f}x), truncated PyTorch {trunc:.3f} s/step ({trunc / ours:.2f}x)")
PY
