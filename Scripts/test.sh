#!/usr/bin/env bash
# Runs the whole test suite: the Swift tests (release build with testability, bounds checks and preconditions on:
# numeric code is slow in debug builds), the numeric ones again at 1 and 3 cores, the Jupyter kernel's tests under
# pytest (Scripts/test_jupyter.sh), the sanitizer runs (Scripts/sanitize.sh) and the fuzzers (Scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
# A real Slurm (a controller and three 1-CPU nodes on this machine) for the sweep tests, stopped when the script
# ends; without root they are skipped and say why.
if [ "$(id -u)" -eq 0 ]; then
    bash Scripts/slurm_up.sh --nodes 3 --cpus 1
    trap 'bash Scripts/slurm_down.sh' EXIT
fi
swift test -c release -Xswiftc -enable-testing "$@"
# The numeric tests again with the work split over 1 and 3 cores (results may differ in the last bits between core
# counts; each test asserts bit-equality only for the same inputs, batch size and core count, tolerances otherwise).
numeric="KernelTests|BFloat16Tests|KMeansSeedingTests|KMeansLocalAssignmentTests|ProductAndEmbeddingTests|TowerTests|AfterCECTests|BLASKernelTests|GradientTests|CoOpParityTests|CoOpTrainerTests|ModelParityTests|CECParityTests|StrategyTests|FeatureCacheTests|LinearProbeTests|PretrainingTests|ExperimentTests"
for cores in 1 3; do
    echo "numeric tests with ALVLM_CORES=$cores"
    ALVLM_CORES=$cores swift test -c release -Xswiftc -enable-testing --skip-build --filter "$numeric"
done
bash Scripts/test_jupyter.sh
# Hardening: the suite under AddressSanitizer and ThreadSanitizer, then every fuzzer for a short bounded time (any
# crash, leak or timeout fails; Scripts/fuzz.sh SURFACE SECONDS fuzzes longer).
bash Scripts/sanitize.sh
bash Scripts/fuzz.sh all "${ALVLM_FUZZ_SECONDS:-12}"
