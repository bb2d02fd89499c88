#!/usr/bin/env bash
# Same-run comparisons, run by hand (not in CI):
#   Scripts/bench.sh encode|coop|vpt|maple [ROUNDS]
#                                               this build against the PyTorch reference (needs the reference venv;
#                                               PYTHON names its interpreter, default /work/refenv/bin/python)
#   Scripts/bench.sh preprocess [ROUNDS] [DIR]  `alvlm bench preprocess` (all cores) against open_clip's Pillow +
#                                               torchvision eval transform (one thread) on the JPEGs under DIR
#                                               (default $BENCH_IMAGES or /work/textiles; when missing, 2,000
#                                               synthetic fabric-like 250x250 JPEGs are made there), then compares
#                                               the two (N, 3, 224, 224) outputs; PYTHON needs torchvision and Pillow
#   Scripts/bench.sh compare-main REF [ROUNDS]  this build against a build of git REF (e.g. main~3): CoOp step,
#                                               encode and select, alternated so that both see the same machine load
# Each alternates the programs ROUNDS times (default 3) and prints every JSON line plus the best of each.
# ALVLM names a prebuilt alvlm to use instead of building .build/release/alvlm (not for compare-main).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-encode}"; rounds="${2:-3}"
if [ "$what" = compare-main ]; then
    ref="${2:?usage: Scripts/bench.sh compare-main REF [ROUNDS]}"; rounds="${3:-3}"
    base=.build/baseline commit=$(git rev-parse "$ref^{commit}")
    # The baseline's sources and build are kept for the next comparison with the same revision.
    if [ "$(cat "$base/.commit" 2>/dev/null)" != "$commit" ]; then
        rm -rf "$base" && mkdir -p "$base" && git archive "$commit" | tar -x -C "$base"
        echo "$commit" > "$base/.commit"
    fi
    (cd "$base" && swift build -c release --product alvlm >&2)
    swift build -c release --product alvlm >&2
    log=$(mktemp)
    for _ in $(seq "$rounds"); do
        for who in baseline current; do
            bin=.build/release/alvlm; [ "$who" = baseline ] && bin="$base/.build/release/alvlm"
            for args in "coop --random vit-b-16 --classes 47 --batch 32 --steps 5" "encode --random vit-b-16 --images 24 --batch 8" \
                        "select --strategy cec --pool 20000 --dim 512 --budget 200"; do
                # shellcheck disable=SC2086
                "$bin" bench $args | sed "s/^{/{\"who\": \"$who\", /" | tee -a "$log"
            done
        done
    done
    python3 - "$log" "$ref" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def best(who, bench, key, fn):
    return fn(r[key] for r in rows if r["who"] == who and r.get("bench") == bench)
for bench, key, fn, unit in [("coop", "seconds_per_step", min, "s/step"), ("encode", "images_per_second", max, "images/s"),
                             ("select", "seconds", min, "s")]:
    try:
        a, b = best("baseline", bench, key, fn), best("current", bench, key, fn)
    except ValueError:
        continue
    ratio = a / b if fn is min else b / a
    print(f"{bench}: {sys.argv[2]} {a:.4g} {unit}, this build {b:.4g} {unit}: {ratio:.2f}x faster")
PY
    exit 0
fi
python="${PYTHON:-/work/refenv/bin/python}"
case "$what" in
    encode|coop|vpt|maple|preprocess) ;;
    *) echo "usage: Scripts/bench.sh encode|coop|vpt|maple|preprocess [ROUNDS] [DIR] | compare-main REF [ROUNDS]" >&2; exit 2 ;;
esac
if [ "$what" = preprocess ]; then
    images="${3:-${BENCH_IMAGES:-/work/textiles}}"
    "$python" -c "import PIL, torchvision" 2>/dev/null ||
        { echo "bench.sh preprocess: $python lacks Pillow or torchvision (set PYTHON to a venv that has them)" >&2; exit 2; }
    if [ ! -e "$images" ]; then
        echo "bench.sh preprocess: no $images; writing synthetic stand-in images there" >&2
        "$python" Scripts/make_bench_images.py "$images" >&2
    fi
fi
alvlm="${ALVLM:-.build/release/alvlm}"
[ -n "${ALVLM:-}" ] || swift build -c release --product alvlm >&2
log=$(mktemp)
for _ in $(seq "$rounds"); do
    case "$what" in
        encode)
            "$alvlm" bench encode --random vit-b-16 --images 24 --batch 8 | tee -a "$log"
            "$python" Scripts/bench_reference.py --skip-coop | grep images_per_second | tee -a "$log" ;;
        coop)
            "$alvlm" bench coop --random vit-b-16 --classes 47 --batch 32 --steps 5 | tee -a "$log"
            "$python" Scripts/bench_reference.py --skip-image | grep coop | tee -a "$log" ;;
        vpt|maple)
            "$alvlm" bench "$what" --random vit-b-16 --classes 47 --batch 32 --steps 3 | tee -a "$log"
            "$python" Scripts/bench_prompt_reference.py "$what" --batch 32 --steps 3 | tee -a "$log" ;;
        preprocess)
            # Best of 2 inside each program (the first run also reads the files), alternated ROUNDS times.
            "$alvlm" bench preprocess --repeats 2 --out /tmp/alvlm_pre.npy "$images" | tee -a "$log"
            "$python" Scripts/bench_preprocess_reference.py --repeats 2 --out /tmp/ref_pre.npy "$images" | tee -a "$log" ;;
    esac
done
python3 - "$log" "$what" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
if sys.argv[2] == "preprocess":
    ours = [r for r in rows if r.get("bench") == "preprocess"]
    refs = [r for r in rows if r.get("reference") == "pillow+torchvision"]
    a, b = max(ours, key=lambda r: r["images_per_second"]), max(refs, key=lambda r: r["images_per_second"])
    print(f"best: alvlm {a['images_per_second']:.1f} images/s ({a['images']} images, {a['seconds']:.3f} s, "
          f"peak {max(r['peak_rss_mb'] for r in ours):.0f} MB), Pillow + torchvision {b['images_per_second']:.1f} "
          f"images/s on one thread ({b['images']} images, {b['seconds']:.3f} s, peak "
          f"{max(r['peak_rss_mb'] for r in refs):.0f} MB): {a['images_per_second'] / b['images_per_second']:.2f}x")
elif sys.argv[2] == "encode":
    ours = max(r["images_per_second"] for r in rows if r.get("bench") == "encode")
    ref = max(r["images_per_second"] for r in rows if r.get("reference") == "transformers")
    peak = max(r["fraction_of_peak"] for r in rows if r.get("bench") == "encode")
    print(f"best: alvlm {ours:.2f} images/s, transformers {ref:.2f} images/s, ratio {ours / ref:.2f}; best fraction of sgemm peak {peak:.2f}")
elif sys.argv[2] in ("vpt", "maple"):
    ours = [r for r in rows if r.get("bench") == sys.argv[2]]
    refs = [r for r in rows if r.get("reference") == "pytorch"]
    best = min(r["seconds_per_step"] for r in ours)
    line = f"best: alvlm {best:.3f} s/step (peak {max(r['peak_rss_mb'] for r in ours):.0f} MB)"
    for variant in refs[0]["results"]:
        ref = min(r["results"][variant]["seconds_per_step"] for r in refs)
        line += f", PyTorch {variant} {ref:.3f} s/step ({ref / best:.2f}x)"
    print(line + f"; PyTorch peak {max(r['peak_rss_mb'] for r in refs):.0f} MB")
else:
    ours = min(r["seconds_per_step"] for r in rows if r.get("bench") == "coop")
    full = min(r["results"]["77_tokens"]["seconds_per_step"] for r in rows if "results" in r)
    trunc = min(v["seconds_per_step"] for r in rows if "results" in r for k, v in r["results"].items() if k.startswith("truncated"))
    print(f"best: alvlm {ours:.3f} s/step, reference CoOp (77 tokens) {full:.3f} s/step ({full / ours:.1f}x), truncated PyTorch {trunc:.3f} s/step ({trunc / ours:.2f}x)")
PY
if [ "$what" = preprocess ]; then
    "$python" Scripts/compare_npy.py /tmp/alvlm_pre.npy /tmp/ref_pre.npy
fi
