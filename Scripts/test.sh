#!/usr/bin/env bash
# Runs the whole test suite: the Swift tests (release build with testability: numeric code is slow in debug builds),
# then the Jupyter kernel's tests under pytest (Scripts/test_jupyter.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift test -c release -Xswiftc -enable-testing "$@"
bash Scripts/test_jupyter.sh
