#!/usr/bin/env bash
# Retrains the embedded tiny CLIP from scratch with the engine's own backward pass (about an hour on 2 cores)
# and writes it to OUT (default: a scratch folder; copy config.json, model.safetensors, the tokenizer files,
# training.json and training-log.jsonl into Sources/AlvlmWorld/Resources/tiny-clip to ship it).
# The run is deterministic for a given number of cores: the same command gives the same weights.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/tiny-run}"
bash Scripts/deps.sh
swift build -c release --product alvlm >&2
.build/release/alvlm pretrain --out "$out" --arch tiny --steps 4000 --batch 128 --lr 1e-3 --warmup 300 --seed 0 \
    --eval-every 250 --eval-size 400
