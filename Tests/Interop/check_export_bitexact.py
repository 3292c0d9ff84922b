#!/usr/bin/env python3
"""convert → export --layout int8 agrees bit for bit with a numpy implementation of the
reference quantization, for F32, F16 and BF16 sources and every granularity.

Reference semantics (rotalabs_accel, in Float32): per block of weights sharing a scale,
scale = max|w| / 127 (0 → 1); q = clamp(round_half_even(w / scale), -128, 127).
The exported file must load with Python's safetensors; NAME_scale has shape [1] per tensor,
[rows, 1] per channel, [rows, columns / group] per group. Kept tensors must come back byte for
byte, and --layout dequantized must equal q × scale in Float32.

Run with SWIFTQUANT=<path to the swiftquant binary>.
"""
import json
import os
import struct
import sys
import tempfile

import numpy as np
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import decode_float, finish, float_fixtures, run, write_safetensors  # noqa: E402


NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "I64": "<i8", "BF16": "<u2"}


def load_file(path):
    """Loads with Python's safetensors (which validates the file) and returns numpy arrays;
    numpy has no bfloat16, so BF16 tensors come back as their uint16 bit patterns."""
    out = {}
    with safe_open(path, framework="numpy") as f:
        names = list(f.keys())
    with open(path, "rb") as raw:
        length = struct.unpack("<Q", raw.read(8))[0]
        header = json.loads(raw.read(length))
        base = 8 + length
        for name in names:
            entry = header[name]
            begin, end = entry["data_offsets"]
            raw.seek(base + begin)
            data = raw.read(end - begin)
            out[name] = np.frombuffer(data, NUMPY_DTYPES[entry["dtype"]]).reshape(entry["shape"])
    with safe_open(path, framework="numpy") as f:
        for name in names:
            if header[name]["dtype"] != "BF16":
                if not np.array_equal(f.get_tensor(name).view(np.uint8), out[name].view(np.uint8)):
                    raise SystemExit(f"{path}: {name} reads differently through safetensors")
    return out


def reference_quantize(w, granularity, group):
    """The reference algorithm in numpy float32. Returns (q int8 in w's shape, scales 2-D)."""
    rows = w.shape[0] if w.ndim >= 2 else 1
    m = w.reshape(rows, -1).astype(np.float32)
    cols = m.shape[1]
    if granularity == "per-group" and cols % group != 0:
        granularity = "per-channel"  # the documented fallback
    if granularity == "per-tensor":
        blocks = m.reshape(1, -1)
    elif granularity == "per-channel":
        blocks = m
    else:
        blocks = m.reshape(-1, group)
    amax = np.max(np.abs(blocks), axis=1, keepdims=True).astype(np.float32)
    scale = (amax / np.float32(127)).astype(np.float32)
    scale[scale == 0] = np.float32(1)
    q = np.clip(np.round(blocks / scale), -128, 127).astype(np.int8)
    if granularity == "per-tensor":
        scales = scale.reshape(1)
    elif granularity == "per-channel":
        scales = scale.reshape(rows, 1)
    else:
        scales = scale.reshape(rows, cols // group)
    return q.reshape(w.shape), scales, granularity


def fixtures(rng):
    """Weights shaped like a small transformer in three source dtypes, with the edge cases:
    an all-zero row, exact .5 ties, a single outlier, a conv kernel, rows not divisible by 64."""
    def weights(shape, scale=0.05):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    q = weights((64, 256))
    q[3] = 0  # zero row: scale 1, all zeros
    ties = weights((16, 128))
    ties[0, :6] = [127, 0.5, 1.5, 2.5, -0.5, -2.5]  # scale 1 → exact half-way cases
    ties[0, 6:] = 0
    outlier = weights((32, 192))
    outlier[5, 7] = 40.0
    conv = weights((8, 4, 3, 3))
    odd = weights((24, 96))  # 96 % 64 != 0 → per-group(64) falls back to per-channel
    tensors = {
        "model.embed_tokens.weight": weights((100, 64)),
        "model.layers.0.self_attn.q_proj.weight": q,
        "model.layers.0.self_attn.ties.weight": ties,
        "model.layers.0.mlp.outlier.weight": outlier,
        "model.layers.0.conv.weight": conv,
        "model.layers.0.mlp.odd.weight": odd,
        "model.layers.0.input_layernorm.weight": weights((256,), 1.0),
    }
    return float_fixtures(tensors)


def main():
    rng = np.random.default_rng(7)
    failures = []
    checked = 0
    with tempfile.TemporaryDirectory() as folder:
        for dtype, tensors in fixtures(rng).items():
            source = os.path.join(folder, f"{dtype}.safetensors")
            write_safetensors(source, tensors)
            for granularity, group in [("per-tensor", 0), ("per-channel", 0), ("per-group", 32), ("per-group", 64)]:
                tag = f"{dtype} {granularity}{'(' + str(group) + ')' if group else ''}"
                swq = os.path.join(folder, f"{dtype}-{granularity}-{group}.swq")
                args = ["convert", source, "-o", swq, "--granularity", granularity, "--quiet", "--force"]
                if group:
                    args += ["--group-size", str(group)]
                run(args)
                run(["verify", swq])
                exported = swq + ".int8.safetensors"
                run(["export", swq, "-o", exported, "--layout", "int8", "--force", "--quiet"])
                loaded = load_file(exported)
                dequantized_path = swq + ".f32.safetensors"
                run(["export", swq, "-o", dequantized_path, "--layout", "dequantized", "--dtype", "f32", "--force", "--quiet"])
                dequantized = load_file(dequantized_path)
                for name, (source_dtype, shape, data) in tensors.items():
                    stored = loaded.get(name)
                    if stored is None:
                        failures.append(f"{tag}: {name} missing from the export")
                        continue
                    quantized = name + "_scale" in loaded
                    should_quantize = len(shape) >= 2 and "embed" not in name and source_dtype != "I64"
                    if quantized != should_quantize:
                        failures.append(f"{tag}: {name} quantized={quantized}, expected {should_quantize}")
                        continue
                    if not quantized:
                        if stored.tobytes() != data:
                            failures.append(f"{tag}: kept tensor {name} changed")
                        checked += 1
                        continue
                    w = decode_float(source_dtype, shape, data)
                    q, scales, effective = reference_quantize(w, granularity, group)
                    got_scales = loaded[name + "_scale"]
                    if stored.dtype != np.int8 or tuple(stored.shape) != tuple(shape):
                        failures.append(f"{tag}: {name} exported as {stored.dtype}{stored.shape}")
                    elif not np.array_equal(stored, q):
                        bad = np.argwhere(stored != q)[0]
                        failures.append(f"{tag}: {name} ({effective}) int8 differs at {tuple(bad)}: "
                                        f"{stored[tuple(bad)]} vs reference {q[tuple(bad)]}")
                    if got_scales.dtype != np.float32 or got_scales.shape != scales.shape:
                        failures.append(f"{tag}: {name} scale shape {got_scales.shape} {got_scales.dtype}, expected {scales.shape}")
                    elif not np.array_equal(got_scales.view(np.uint32), scales.view(np.uint32)):
                        failures.append(f"{tag}: {name} scales differ from the reference")
                    # Dequantized export: q × scale in float32, one scale per block.
                    rows = shape[0]
                    blocks = stored.reshape(got_scales.size, -1).astype(np.float32)
                    expected = (blocks * got_scales.reshape(-1, 1)).reshape(shape)
                    if not np.array_equal(dequantized[name].view(np.uint32), expected.astype(np.float32).view(np.uint32)):
                        failures.append(f"{tag}: {name} dequantized export differs from q × scale")
                    checked += 1
    return finish(failures, f"check_export_bitexact: {checked} tensor checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
