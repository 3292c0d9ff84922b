#!/usr/bin/env bash
# Seed checkpoints for the checkpoint fuzz target, written by the real tool: small safetensors
# files (make_seeds.py) converted with each granularity and with compression on and off.
#   bash make_checkpoint_seeds.sh OUTPUT_FOLDER
# Uses $SWIFTQUANT, else the release build of swiftquant (built if missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$1"
mkdir -p "$out"
swiftquant="${SWIFTQUANT:-}"
if [ -z "$swiftquant" ]; then
    (cd "$root" && swift build -c release --product swiftquant >&2)
    swiftquant="$(cd "$root" && swift build -c release --show-bin-path)/swiftquant"
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 "$root/Tests/Fuzz/make_seeds.py" safetensors "$scratch"
n=0
for input in "$scratch"/medium.safetensors "$scratch"/small.safetensors "$scratch"/dtypes.safetensors "$scratch"/empty-and-scalar.safetensors; do
    for options in "" "--granularity per-tensor" "--granularity per-group --group-size 4" "--no-compression"; do
        n=$((n + 1))
        # shellcheck disable=SC2086
        "$swiftquant" convert "$input" -o "$out/seed-$n.swq" --force $options >/dev/null 2>&1 \
            || echo "fuzz: could not convert $(basename "$input") with '$options' (skipped)" >&2
    done
done
ls "$out"/*.swq >/dev/null 2>&1 || { echo "fuzz: no checkpoint seeds could be written" >&2; exit 1; }
