#!/usr/bin/env bash
# Builds the DocC documentation of every public module with swift-docc-plugin and fails when
# DocC reports an error or a broken symbol link ("doesn't exist"): a renamed or moved type
# then breaks this check instead of silently leaving a dead link in the documentation.
# Other warnings (an undocumented parameter) are printed, not fatal.
#
# Not part of run-all.sh by default: on the 2-core reference machine it adds 40-90 s after a
# build (the plugin extracts symbol graphs with its own build). Run it when doc comments,
# catalogs (Sources/*/*.docc) or public API change:
#   bash Tests/check-docs.sh              # every public module
#   bash Tests/check-docs.sh SwiftQuantNN # some of them
# The archives land in .build/plugins/Swift-DocC/outputs/<Module>.doccarchive.
set -euo pipefail
cd "$(dirname "$0")/.."

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
    modules=(SwiftQuantCore SwiftQuantKernels SwiftQuantSafeTensors SwiftQuantGGUF SwiftQuantCheckpoint
             SwiftQuantModelFolder SwiftQuantPlan SwiftQuantConversion SwiftQuantNN SwiftQuantModels SwiftQuant)
fi
targets=()
for module in "${modules[@]}"; do
    [ -f "Sources/$module/$module.docc/$module.md" ] || { echo "check-docs: Sources/$module/$module.docc/$module.md is missing" >&2; exit 1; }
    targets+=(--target "$module")
done

log=$(mktemp /tmp/swiftquant-docs.XXXXXX)
start=$(date +%s)
set +e
swift package generate-documentation "${targets[@]}" >"$log" 2>&1
status=$?
set -e
seconds=$(( $(date +%s) - start ))

# DocC prints each diagnostic as "warning: …" or "error: …" followed by its source location.
grep -E -A2 '^(warning|error):' "$log" || true
errors=$(grep -cE '^error:' "$log" || true)
broken=$(grep -cE "^warning: .*doesn't exist" "$log" || true)
warnings=$(grep -cE '^warning:' "$log" || true)
if [ "$status" != 0 ] || [ "$errors" != 0 ] || [ "$broken" != 0 ]; then
    echo "check-docs: generate-documentation exited $status with $errors errors and $broken broken symbol links (full log: $log)" >&2
    exit 1
fi
echo "docs: ${#modules[@]} modules built in ${seconds} s, $warnings warnings, 0 errors, 0 broken links"
rm -f "$log"
