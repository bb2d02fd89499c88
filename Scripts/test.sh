#!/usr/bin/env bash
# Runs the whole test suite: release build with testability (numeric code is slow in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift test -c release -Xswiftc -enable-testing "$@"
