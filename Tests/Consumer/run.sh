#!/usr/bin/env bash
# Builds Tests/Consumer, a package that depends on SwiftQuant by version as a user would, and
# runs it on a checkpoint the CLI converts from Samples/tiny-llama.safetensors.
#
#   bash Tests/Consumer/run.sh [SWIFTQUANT_BINARY]
#
# The committed HEAD (not uncommitted edits) is pushed to a temporary bare repository and tagged
# 0.1.0; the consumer resolves `.package(url: "file://…", from: "0.1.0")` against it (its own
# dependencies resolve from the machine's package copies, offline). Builds go to
# .build-consumer/ (git-ignored). Prints "consumer: passed" or exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

# SwiftPM refuses unsafe build flags in a versioned dependency; this build proves there are none.

swiftquant="${1:-}"
if [ -z "$swiftquant" ]; then
    swift build -c release --product swiftquant >/dev/null
    swiftquant="$(swift build -c release --show-bin-path)/swiftquant"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/swiftquant-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
git init -q --bare "$work/SwiftQuant.git"
git push -q "$work/SwiftQuant.git" "$(git rev-parse HEAD):refs/heads/main"
git -C "$work/SwiftQuant.git" tag 0.1.0 main
echo "consumer: SwiftQuant $(git rev-parse --short HEAD) tagged 0.1.0 at $work/SwiftQuant.git" >&2

"$swiftquant" convert Samples/tiny-llama.safetensors -o "$work/tiny.swq" --quiet
"$swiftquant" export "$work/tiny.swq" -o "$work/dequantized.safetensors" --layout dequantized --dtype f32

# A fresh scratch folder each run: a cached checkout of an earlier 0.1.0 must not be reused.
scratch="$root/.build-consumer"
rm -rf "$scratch"
SWIFTQUANT_PACKAGE_URL="file://$work/SwiftQuant.git" \
    swift build --package-path Tests/Consumer --scratch-path "$scratch" -c release
"$scratch/release/consumer" "$work/tiny.swq" "$work/dequantized.safetensors"
echo "consumer: passed"
