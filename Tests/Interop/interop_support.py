"""Helpers shared by the interop checks in this folder (check_*.py).

The checks run as scripts (`python3 Tests/Interop/check_x.py`, from any working directory);
each puts its own folder on sys.path and imports what it needs from here:

- SWIFTQUANT, the CLI binary named by the SWIFTQUANT environment variable, and `run`;
- ROOT and the MiniLM paths (found by the models rule: $SWIFTQUANT_MODELS, ../shared/models,
  .cache/models; see `models_folder`);
- `failures` / `fail` / `exit_if_failed` and `finish`, the two ways checks report findings;
- a hand-written safetensors writer and reader (hand-written so BF16, which numpy lacks, is
  stored exactly), and the F32/F16/BF16 encoding and decoding of numpy float32 arrays.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
"""The repository root (this file is Tests/Interop/interop_support.py)."""

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")
"""The swiftquant binary: $SWIFTQUANT, else `swiftquant` on PATH."""


def models_folder(name):
    """The folder of model `name`, by the rule the Swift tests (SwiftQuantTestSupport's
    TestModels) and Tests/setup.sh share: $SWIFTQUANT_MODELS if set and not empty, else
    ../shared/models beside the repository if it has the model, else .cache/models in the
    repository (filled by Tests/setup.sh). When none has it, the path where setup.sh puts it
    (or the explicit one), so checks fail naming it; `MODELS_HINT` says what to do."""
    chosen = os.environ.get("SWIFTQUANT_MODELS", "")
    if chosen:
        return os.path.join(chosen, name)
    for base in (os.path.join(ROOT, "..", "shared", "models"), os.path.join(ROOT, ".cache", "models")):
        folder = os.path.normpath(os.path.join(base, name))
        if os.path.exists(os.path.join(folder, "model.safetensors")):
            return folder
    return os.path.join(ROOT, ".cache", "models", name)


MODELS_HINT = "run `bash Tests/setup.sh` to download it, or set SWIFTQUANT_MODELS"
"""What to do when a model is missing, for the checks' failure messages."""

MINILM_DIR = models_folder("all-MiniLM-L6-v2")
"""The all-MiniLM-L6-v2 model folder (see `models_folder`)."""

MINILM_SAFETENSORS = os.path.join(MINILM_DIR, "model.safetensors")
"""The MiniLM checkpoint inside MINILM_DIR."""


failures = []
"""Findings collected by `fail`, for checks that report them all at the end."""


def fail(message):
    """Records one finding in `failures`; the check goes on."""
    failures.append(message)


def exit_if_failed(check):
    """Prints every recorded finding to stderr as `check: message` and exits 1 if there is any."""
    for message in failures:
        print(f"{check}:", message, file=sys.stderr)
    if failures:
        sys.exit(1)


def finish(found, summary):
    """Prints the first 20 of `found` as `FAIL: ...`, then `summary`; returns the exit status
    (1 if anything was found, else 0)."""
    for failure in found[:20]:
        print("FAIL:", failure)
    print(summary)
    return 1 if found else 0


def run(args, expect_ok=True):
    """Runs `swiftquant args...` capturing text output. With expect_ok (the default) a non-zero
    status ends the check (SystemExit naming the command and its stderr). Returns the result."""
    result = subprocess.run([SWIFTQUANT] + args, capture_output=True, text=True)
    if expect_ok and result.returncode != 0:
        raise SystemExit(f"swiftquant {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def write_safetensors(path, tensors):
    """Writes a safetensors file by hand. tensors: name -> (dtype string, shape, raw
    little-endian bytes), in file order; the header is padded with spaces to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def array_entry(array):
    """A float32 or float16 numpy array as the (dtype, shape, bytes) that `write_safetensors`
    takes; any other dtype is a KeyError."""
    dtype = {np.dtype("float32"): "F32", np.dtype("float16"): "F16"}[array.dtype]
    return dtype, array.shape, array.tobytes()


def read_safetensors(path):
    """name -> (dtype, shape tuple, bytes), in file order, skipping __metadata__."""
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        base = 8 + length
        out = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            f.seek(base + begin)
            out[name] = (entry["dtype"], tuple(entry["shape"]), f.read(end - begin))
    return out


def encode_float(w, dtype):
    """The raw little-endian bytes of float32 array `w` stored as dtype "F32", "F16" (numpy's
    round-to-nearest-even) or "BF16" (round-to-nearest-even on the float32 bit pattern)."""
    if dtype == "F32":
        return w.astype("<f4").tobytes()
    if dtype == "F16":
        return w.astype("<f2").tobytes()
    if dtype == "BF16":
        # Round to bf16 first so the stored value is what both sides decode.
        bits = w.view(np.uint32).astype(np.uint64)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
    raise ValueError(dtype)


def float_fixtures(tensors):
    """name -> float32 array, as safetensors sources in each float dtype: returns
    {"F32" | "F16" | "BF16": name -> (dtype, shape, bytes)}, each with an I64
    `model.position_ids` of shape (1, 7) added last."""
    out = {}
    for dtype in ["F32", "F16", "BF16"]:
        encoded = {name: (dtype, w.shape, encode_float(w, dtype)) for name, w in tensors.items()}
        encoded["model.position_ids"] = ("I64", (1, 7), np.arange(7, dtype="<i8").tobytes())
        out[dtype] = encoded
    return out


def decode_float(dtype, shape, data):
    """Raw F32, F16 or BF16 bytes as a float32 array of `shape` (exact: every value fits)."""
    if dtype == "F32":
        return np.frombuffer(data, "<f4").reshape(shape).astype(np.float32)
    if dtype == "F16":
        return np.frombuffer(data, "<f2").reshape(shape).astype(np.float32)
    if dtype == "BF16":
        return (np.frombuffer(data, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    raise ValueError(dtype)


def llama_cpp_dir():
    """The llama.cpp source vendored in the llama-cpp-python sdist (for convert_hf_to_gguf.py):
    $LLAMA_CPP_SOURCE, else the copy Tests/setup.sh unpacks into .cache/, else None."""
    for candidate in (os.environ.get("LLAMA_CPP_SOURCE", ""),
                      os.path.join(ROOT, ".cache", "llama_cpp_python-0.3.36", "vendor", "llama.cpp"),
                      "/tmp/llcp/src/llama_cpp_python-0.3.36/vendor/llama.cpp"):
        if candidate and os.path.exists(os.path.join(candidate, "convert_hf_to_gguf.py")):
            return candidate
    return None


_SILENT = []


def quiet_llama_cpp():
    """Stops llama.cpp's per-tensor log lines (the callback must outlive every call)."""
    import ctypes
    import llama_cpp
    if not _SILENT:
        _SILENT.append(llama_cpp.llama_log_callback(lambda level, text, data: None))
        llama_cpp.llama_log_set(_SILENT[0], ctypes.c_void_p())
