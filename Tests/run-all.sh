#!/usr/bin/env bash
# The whole test suite: set-up, the Swift tests, then the Python interop checks against
# the peers (numpy, safetensors, gguf-py). Run from anywhere. The last line counts both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tests/setup.sh

swift build -c release --product swiftquant
swift build -c release --product minilm-embed

log=$(mktemp /tmp/swiftquant-swift-test.XXXXXX)
set +e
swift test >"$log" 2>&1
status=$?
set -e
# Swift Testing announces every test as it starts and passes; show failures, issues and totals.
grep -vE '^\[[0-9]+/[0-9]+\]|^(Test Suite|Test Case) |^◇ |^✔ (Test [^r]|Test r[^u]|Suite )' "$log" || true
swift_passed=$(sed -nE 's/^✔ Test run with ([0-9]+) tests? in [0-9]+ suites? passed.*/\1/p' "$log" | tail -1)
if [ "$status" != 0 ] || [ -z "$swift_passed" ]; then
    echo "swift test failed with status $status (full log: $log)" >&2
    grep -E '^✘' "$log" | head -50 >&2 || true
    exit 1
fi

set +e
SWIFTQUANT="$(swift build -c release --show-bin-path)/swiftquant" python3 Tests/Interop/run_checks.py
interop_status=$?
set -e
interop_passed=$(python3 -c 'import glob;print(len(glob.glob("Tests/Interop/check_*.py")))')
if [ "$interop_status" != 0 ]; then
    echo "interop checks failed" >&2
    exit 1
fi
echo "tests: $((swift_passed + interop_passed)) passed, 0 failed"
