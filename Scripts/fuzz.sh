#!/usr/bin/env bash
# Coverage-guided fuzzing of every input surface (Tests/AlvlmFuzzSurfaces) with libFuzzer and AddressSanitizer.
#   Scripts/fuzz.sh                 every surface for 30 s each
#   Scripts/fuzz.sh SURFACE [SECONDS]   one surface (safetensors, config, npy, image, tokenizer, language, notebook,
#                                   answers, pool-csv, experiment, journal, sweep) or "all"
# The committed seeds (Tests/Fuzz/Corpus/SURFACE) are read, never written: new inputs go to .fuzz/corpus/SURFACE.
# Any crash, leak, timeout (10 s per input) or out-of-memory fails the run; the reproducer is kept in .fuzz/findings
# and printed in base64. Commit it under Tests/Fuzz/Regressions/SURFACE/ (prefix refused- if the fixed code must
# refuse it) and AlvlmFuzzSurfacesTests replays it in every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
seconds=${2:-30}
surfaces=(safetensors config npy image tokenizer language notebook answers pool-csv experiment journal sweep)
if [ "$what" != all ]; then
    printf '%s\n' "${surfaces[@]}" | grep -qx -- "$what" || { echo "unknown surface $what (one of: ${surfaces[*]}, all)" >&2; exit 2; }
    surfaces=("$what")
fi
echo "building the fuzzer (-sanitize=fuzzer,address)"
swift build --package-path Tests/Fuzz -c debug --sanitize=fuzzer --sanitize=address --product alvlm-fuzz 2>&1 | grep -vE "^\[|ld.gold: warning: Cannot export local symbol" || true
binary="$(swift build --package-path Tests/Fuzz -c debug --sanitize=fuzzer --sanitize=address --show-bin-path)/alvlm-fuzz"
[ -x "$binary" ] || { echo "the fuzzer did not build" >&2; exit 1; }
mkdir -p .fuzz/findings
failed=()
for s in "${surfaces[@]}"; do
    mkdir -p ".fuzz/corpus/$s"
    dict=()
    [ -f "Tests/Fuzz/Dictionaries/$s.dict" ] && dict=("-dict=Tests/Fuzz/Dictionaries/$s.dict")
    log=".fuzz/$s.log"
    echo "fuzzing $s for ${seconds} s"
    regressions=()
    [ -d "Tests/Fuzz/Regressions/$s" ] && regressions=("Tests/Fuzz/Regressions/$s")
    # SWIFT_BACKTRACE: a Swift trap goes to libFuzzer's handler (which saves the input), not to Swift's backtracer.
    if SWIFT_BACKTRACE=enable=no ALVLM_FUZZ_SURFACE="$s" LSAN_OPTIONS="suppressions=$PWD/Tests/Fuzz/lsan.supp:print_suppressions=0" \
        "$binary" ".fuzz/corpus/$s" "Tests/Fuzz/Corpus/$s" "${regressions[@]}" "${dict[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix=".fuzz/findings/$s-" > "$log" 2>&1; then
        grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$log" | sed "s/^/  $s /" || true
    else
        failed+=("$s")
        echo "FAILED: $s (log: $log)"
        grep -E "ERROR:|SUMMARY:|Test unit written to|==[0-9]+== " "$log" | head -20 || true
        sed -n '/^    #[0-9]/p' "$log" | head -25 || true
        for artifact in .fuzz/findings/"$s"-*; do
            [ -f "$artifact" ] || continue
            echo "reproducer $artifact ($(wc -c < "$artifact") bytes), base64:"
            head -c 65536 "$artifact" | base64 -w 100 || true
        done
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}"
    exit 1
fi
echo "fuzzing: ${#surfaces[@]} surface(s), no crash, leak or timeout"
