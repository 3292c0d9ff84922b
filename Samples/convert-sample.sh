#!/usr/bin/env bash
# Converts the sample checkpoint to a SwiftQuant INT8 checkpoint, from a fresh clone:
# installs what the build needs, builds swiftquant in release mode, converts, then shows
# what was written. Output: Samples/out/tiny-llama.swq (git ignores Samples/out/).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTQUANT_SKIP_PYTHON=1 SWIFTQUANT_SKIP_MODELS=1 bash Tests/setup.sh
swift build -c release --product swiftquant >&2
bin="$(swift build -c release --show-bin-path)/swiftquant"
mkdir -p Samples/out
"$bin" convert Samples/tiny-llama.safetensors -o Samples/out/tiny-llama.swq --force
"$bin" verify Samples/out/tiny-llama.swq
echo "Converted: Samples/out/tiny-llama.swq (inspect it with: $bin inspect Samples/out/tiny-llama.swq)"
