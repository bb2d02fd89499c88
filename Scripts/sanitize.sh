#!/usr/bin/env bash
# The test suite under the sanitizers (debug builds in their own folders, .build-asan and .build-tsan):
#   AddressSanitizer: every in-process test but the slow numeric and world ones (a debug build with ASan runs them
#     10-50x slower) and the binary-driving ones in alvlmTests. Leak detection is off here: XCTest and Foundation
#     keep objects LeakSanitizer cannot see at exit; the fuzzers (Scripts/fuzz.sh) check leaks per input instead.
#   ThreadSanitizer: the parallel numeric code (GEMM splitting, attention and layer-norm workers, kNN blocks, k-means
#     partial sums, strategies, feature rows converted from float16 or a mapped file) and the feature cache under
#     concurrent writers, with the work split over 3 cores.
# Any report fails the run (the sanitizers' exit code).
#   Scripts/sanitize.sh [address|thread]   (both by default)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-both}
quiet() { grep -vE "^\[[0-9]+/[0-9]+\]|ld.gold: warning: Cannot export local symbol|^warning: prohibited flag" || true; }
if [ "$what" = both ] || [ "$what" = address ]; then
    echo "building the tests with AddressSanitizer"
    swift build --scratch-path .build-asan --sanitize=address --build-tests 2>&1 | quiet
    echo "tests under AddressSanitizer"
    ASAN_OPTIONS=detect_leaks=0 swift test --scratch-path .build-asan --sanitize=address --skip-build \
        --skip "alvlmTests\.|PromptParityTests|ExperimentTests|BindingsTests|GradientTests|ModelParityTests|FeatureCacheTests|CoOpTrainerTests|PretrainingTests|WorldExperimentTests|TextureWorldTests|KMeansSeedingTests|BFloat16EncodingTests|InvertedFileNeighborsTests"
fi
if [ "$what" = both ] || [ "$what" = thread ]; then
    echo "building the tests with ThreadSanitizer"
    swift build --scratch-path .build-tsan --sanitize=thread --build-tests 2>&1 | quiet
    echo "parallel numeric tests under ThreadSanitizer (ALVLM_CORES=3)"
    ALVLM_CORES=3 TSAN_OPTIONS="halt_on_error=0" swift test --scratch-path .build-tsan --sanitize=thread --skip-build \
        --filter "KernelTests|BFloat16Tests|BLASKernelTests|TowerTests|CECParityTests|StrategyTests|AfterCECTests|FeatureRowsTests|FeatureCacheTests/testConcurrentWritersNeverTearAnEntry"
fi
