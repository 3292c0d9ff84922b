#!/usr/bin/env bash
# The whole test suite: set-up (including the real model, when no models folder has it), the
# Swift tests, the Python interop checks against the peers (numpy, safetensors, gguf-py), and
# the documentation build (Tests/check-docs.sh) and the consumer package (Tests/Consumer:
# SwiftQuant used by version, as a user would). Run from
# anywhere. The last line counts all three; the exit status is 1 if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tests/setup.sh

swift build -c release --product swiftquant
swift build -c release --product minilm-embed
bin="$(swift build -c release --show-bin-path)"

passed=0
failed=0

log=$(mktemp /tmp/swiftquant-swift-test.XXXXXX)
set +e
swift test >"$log" 2>&1
status=$?
set -e
# Swift Testing announces every test as it starts and passes; show failures, issues and totals.
grep -vE '^\[[0-9]+/[0-9]+\]|^(Test Suite|Test Case) |^◇ |^✔ (Test [^r]|Test r[^u]|Suite )' "$log" || true
swift_passed=$(sed -nE 's/^✔ Test run with ([0-9]+) tests? in [0-9]+ suites? passed.*/\1/p' "$log" | tail -1)
if [ "$status" = 0 ] && [ -n "$swift_passed" ]; then
    passed=$((passed + swift_passed))
else
    swift_total=$(sed -nE 's/^✘ Test run with ([0-9]+) tests? .*/\1/p' "$log" | tail -1)
    swift_failed=$(grep -cE '^✘ Test [^r].* failed' "$log" || true)
    [ "$swift_failed" -gt 0 ] || swift_failed=1  # a build failure or crash: count it once
    passed=$((passed + ${swift_total:-$swift_failed} - swift_failed))
    failed=$((failed + swift_failed))
    echo "swift test failed with status $status (full log: $log)" >&2
    grep -E '^✘' "$log" | head -50 >&2 || true
fi

interop_log=$(mktemp /tmp/swiftquant-interop.XXXXXX)
set +e
SWIFTQUANT="$bin/swiftquant" python3 Tests/Interop/run_checks.py 2>&1 | tee "$interop_log"
set -e
# run_checks.py closes with "interop: N passed, N failed".
interop_counts=$(sed -nE 's/^interop: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$interop_log" | tail -1)
if [ -n "$interop_counts" ]; then
    read -r interop_passed interop_failed <<<"$interop_counts"
else
    interop_passed=0; interop_failed=1; echo "interop checks did not finish (log: $interop_log)" >&2
fi
passed=$((passed + interop_passed))
failed=$((failed + interop_failed))

# DocC for every public module: generate-documentation must succeed with no broken symbol link.
docs_log=$(mktemp /tmp/swiftquant-docs-check.XXXXXX)
if bash Tests/check-docs.sh >"$docs_log" 2>&1; then
    passed=$((passed + 1))
    tail -1 "$docs_log"
else
    failed=$((failed + 1))
    echo "documentation check failed (log: $docs_log)" >&2
    tail -20 "$docs_log" >&2
fi

consumer_log=$(mktemp /tmp/swiftquant-consumer.XXXXXX)
set +e
bash Tests/Consumer/run.sh "$bin/swiftquant" >"$consumer_log" 2>&1
consumer_status=$?
set -e
grep -E '^consumer: ' "$consumer_log" || true
if [ "$consumer_status" = 0 ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "consumer package check failed with status $consumer_status (log: $consumer_log)" >&2
    tail -30 "$consumer_log" >&2
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
