#!/usr/bin/env bash
# Installs what SwiftQuant needs beyond the Swift toolchain: libzstd and libxxhash headers
# (Debian packages) and the Python peers the interop checks compare against.
# Safe to run again: it only installs what is missing.
set -euo pipefail

missing_debs=()
for pkg in libzstd-dev libxxhash-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing_debs+=("$pkg")
done
if ((${#missing_debs[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing ${missing_debs[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_debs[@]}" >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_debs[@]}" >/dev/null
    else
        echo "setup: missing ${missing_debs[*]}; run: sudo apt-get install -y ${missing_debs[*]}" >&2
        exit 1
    fi
fi

if [ "${SWIFTQUANT_SKIP_PYTHON:-0}" != 1 ]; then
    if ! python3 -c 'import numpy, safetensors, gguf, zstandard, xxhash' >/dev/null 2>&1; then
        echo "setup: installing Python peers (numpy safetensors gguf zstandard xxhash)" >&2
        python3 -m pip install -q numpy safetensors gguf zstandard xxhash
    fi
    # rotalabs-accel itself, for check_rotalabs.py. torch MUST be the CPU build spelled exactly
    # so: a plain `pip install torch` pulls ~5 GB of CUDA packages.
    if ! python3 -c 'import rotalabs_accel, torch' >/dev/null 2>&1; then
        echo "setup: installing rotalabs-accel==1.1.1 and torch==2.13.0+cpu" >&2
        python3 -m pip install -q "torch==2.13.0+cpu" "rotalabs-accel==1.1.1"
    fi
fi
