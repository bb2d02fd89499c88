#!/usr/bin/env bash
# The main job, until the quickstart notebook exists: encode a sample of images and texts with a
# CLIP model (the small random-weight fixture model unless ALVLM_MODEL names a real model folder),
# and print which text each image is closest to.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift build -c release --product alvlm >&2
alvlm=.build/release/alvlm
model="${ALVLM_MODEL:-Tests/Fixtures/tiny-clip}"
out=.quickstart
mkdir -p "$out"
texts=("a photo of a striped texture." "a photo of a dotted texture." "a photo of a gradient." "a photo of a dog.")
"$alvlm" encode-images --model "$model" --out "$out/images.npy" Tests/Fixtures/images
"$alvlm" encode-texts --model "$model" --out "$out/texts.npy" "${texts[@]}"
python3 - "$out" "${texts[@]}" <<'PY' 2>/dev/null || echo "wrote $out/images.npy and $out/texts.npy (numpy not available for the summary)"
import sys, numpy as np
out, texts = sys.argv[1], sys.argv[2:]
i, t = np.load(f"{out}/images.npy"), np.load(f"{out}/texts.npy")
i /= np.linalg.norm(i, axis=1, keepdims=True); t /= np.linalg.norm(t, axis=1, keepdims=True)
print(f"encoded {len(i)} images and {len(t)} texts into {i.shape[1]}-d CLIP features ({out}/images.npy, {out}/texts.npy)")
for k, row in enumerate(i @ t.T):
    print(f"  image {k:2d}: closest text {texts[row.argmax()]!r} (cosine {row.max():+.3f})")
PY
