#!/usr/bin/env python3
"""GGUF files written by gguf-py convert to the same SwiftQuant checkpoint as the same weights
in safetensors, and the reader's limits show up as one clean line.

- F16 and F32 tensors written by gguf.GGUFWriter, and the same arrays written as safetensors,
  convert (default rules, then per-group 32) to checkpoints whose `export --layout int8`
  outputs are identical: same tensors, same int8 values, same scales, same kept bytes.
- Q8_0 tensors (gguf.quants.quantize) are dequantized exactly as gguf.quants.dequantize
  does: converting them equals converting those dequantized floats from safetensors, both
  for a quantized tensor and for a kept embedding (stored as exact F32).
- `inspect` lists a Q4_K tensor; `convert` of a file holding one fails with exactly one
  stderr line naming the tensor and its type, exit status 1, and no output file.
- A GGUF file cut short fails `inspect` and `convert` with exactly one stderr line and
  status 1 (the full crafted-file suite is Tests/SwiftQuantReadersTests/GGUFValidationTests).

Run with SWIFTQUANT=<path to the swiftquant binary>.
"""
import os
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import (array_entry, exit_if_failed, fail, read_safetensors, run,  # noqa: E402
                             write_safetensors)


def write_gguf(path, tensors):
    """tensors: name -> numpy array, or (raw ggml bytes, ggml type) for quantized tensors."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("interop")
    for name, value in tensors.items():
        if isinstance(value, tuple):
            data, qtype = value
            writer.add_tensor(name, data, raw_dtype=qtype)
        else:
            writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def exported(folder, source, tag, extra):
    swq = os.path.join(folder, f"{tag}.swq")
    run(["convert", source, "-o", swq, "--quiet", "--force"] + extra)
    run(["verify", swq])
    out = swq + ".int8.safetensors"
    run(["export", swq, "-o", out, "--layout", "int8", "--force", "--quiet"])
    return read_safetensors(out)


def compare(tag, from_gguf, from_safetensors):
    if set(from_gguf) != set(from_safetensors):
        fail(f"{tag}: tensors differ: {sorted(set(from_gguf) ^ set(from_safetensors))}")
    for name in sorted(set(from_gguf) & set(from_safetensors)):
        if from_gguf[name] != from_safetensors[name]:
            a, b = from_gguf[name], from_safetensors[name]
            fail(f"{tag}: {name} differs: {a[0]}{list(a[1])} vs {b[0]}{list(b[1])}, bytes equal {a[2] == b[2]}")


def expect_one_line_error(tag, args, must_mention):
    result = run(args, expect_ok=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode != 1 or len(lines) != 1 or not lines[0].startswith("swiftquant: error: "):
        fail(f"{tag}: expected one error line and status 1, got status {result.returncode}, stderr {result.stderr!r}")
    elif any(word not in lines[0] for word in must_mention):
        fail(f"{tag}: error line {lines[0]!r} does not mention {must_mention}")


def main():
    rng = np.random.default_rng(5)
    arrays = {
        "token_embd.weight": (rng.standard_normal((120, 64)) * 0.02).astype(np.float16),
        "blk.0.attn_q.weight": (rng.standard_normal((64, 64)) * 0.05).astype(np.float32),
        "blk.0.attn_k.weight": (rng.standard_normal((32, 64)) * 0.05).astype(np.float16),
        "blk.0.ffn_up.weight": (rng.standard_normal((160, 64)) * 0.05).astype(np.float16),
        "blk.0.ffn_down.weight": (rng.standard_normal((64, 160)) * 0.05).astype(np.float32),
        "blk.0.attn_norm.weight": (1 + rng.standard_normal(64) * 0.1).astype(np.float32),
        "output.weight": (rng.standard_normal((120, 64)) * 0.05).astype(np.float16),
    }
    compared = 0
    with tempfile.TemporaryDirectory() as folder:
        gguf_path = os.path.join(folder, "weights.gguf")
        st_path = os.path.join(folder, "weights.safetensors")
        write_gguf(gguf_path, arrays)
        write_safetensors(st_path, {name: array_entry(array) for name, array in arrays.items()})
        for tag, extra in [("default rules", []), ("per-group 32", ["--granularity", "per-group", "--group-size", "32"])]:
            a = exported(folder, gguf_path, "gguf-" + tag.replace(" ", "-"), extra)
            b = exported(folder, st_path, "st-" + tag.replace(" ", "-"), extra)
            compare(tag, a, b)
            compared += len(a)
            if not any(name.endswith("_scale") for name in a):
                fail(f"{tag}: nothing was quantized, so the comparison proves little")

        # Q8_0 in: dequantized as gguf-py does, whether quantized again or kept (as exact F32).
        w = (rng.standard_normal((48, 128)) * 0.05).astype(np.float32)
        q8 = gguf.quants.quantize(w, QT.Q8_0)
        embedding = gguf.quants.quantize((rng.standard_normal((40, 64)) * 0.02).astype(np.float32), QT.Q8_0)
        q8_path = os.path.join(folder, "q8.gguf")
        write_gguf(q8_path, {"token_embd.weight": (embedding, QT.Q8_0), "blk.0.attn_v.weight": (q8, QT.Q8_0)})
        dq = gguf.quants.dequantize(q8, QT.Q8_0).astype(np.float32).reshape(48, 128)
        dq_embedding = gguf.quants.dequantize(embedding, QT.Q8_0).astype(np.float32).reshape(40, 64)
        dq_path = os.path.join(folder, "q8-dequantized.safetensors")
        write_safetensors(dq_path, {"token_embd.weight": array_entry(dq_embedding),
                                    "blk.0.attn_v.weight": array_entry(dq)})
        compare("Q8_0 source", exported(folder, q8_path, "q8", []), exported(folder, dq_path, "q8-dq", []))
        compared += 1

        # Q4_K in: listed by inspect, a one-line error for convert.
        q4k_path = os.path.join(folder, "q4k.gguf")
        raw = np.zeros((2, 144), np.uint8)  # two rows of 256 values, 144 bytes per Q4_K block
        write_gguf(q4k_path, {"blk.0.attn_q.weight": (raw, QT.Q4_K)})
        listing = run(["inspect", q4k_path, "--json"]).stdout
        if "Q4_K" not in listing:
            fail(f"inspect does not list the Q4_K tensor: {listing[:300]}")
        q4k_out = os.path.join(folder, "q4k.swq")
        expect_one_line_error("convert Q4_K", ["convert", q4k_path, "-o", q4k_out], ["blk.0.attn_q.weight", "Q4_K"])
        if os.path.exists(q4k_out):
            fail("convert Q4_K left an output file")

        # Truncated GGUF: one line, status 1, for inspect and convert.
        with open(gguf_path, "rb") as f:
            data = f.read()
        cut_path = os.path.join(folder, "cut.gguf")
        with open(cut_path, "wb") as f:
            f.write(data[: len(data) // 2])
        expect_one_line_error("inspect truncated", ["inspect", cut_path], [cut_path, "truncated"])
        expect_one_line_error("convert truncated", ["convert", cut_path, "-o", os.path.join(folder, "cut.swq")],
                              [cut_path, "truncated"])

    exit_if_failed("check_gguf_import")
    print(f"check_gguf_import: {compared} exported tensors identical from GGUF and safetensors; "
          "Q8_0 dequantized as gguf-py; Q4_K and truncation are one-line errors")


if __name__ == "__main__":
    main()
