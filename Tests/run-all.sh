#!/usr/bin/env bash
# The whole test suite: set-up, the Swift tests, then the Python interop checks against
# the peers (numpy, safetensors, gguf-py). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tests/setup.sh

swift build -c release --product swiftquant
swift test 2>&1 | tee /tmp/swiftquant-swift-test.log | grep -vE '^\[[0-9]+/[0-9]+\]|^(Test Suite|Test Case) '
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || { echo "swift test failed with status $status" >&2; exit "$status"; }

SWIFTQUANT="$(swift build -c release --show-bin-path)/swiftquant" python3 Tests/Interop/run_checks.py
