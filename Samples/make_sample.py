#!/usr/bin/env python3
"""Writes Samples/tiny-llama.safetensors: a small llama-shaped checkpoint for the README demo.

The weights are random but shaped like a real model's: normal(0, 0.02) with a few large
outliers per matrix (the values that make per-tensor INT8 scales bad), RMSNorm weights near
1, and the usual mix of dtypes: F16 for most matrices, BF16 for one layer's MLP, F32 norms.

The file is written by hand (8-byte little-endian header length, JSON header padded with
spaces to a multiple of 8, then the raw little-endian data) so the script needs numpy only.
The seed is fixed, so running it again reproduces the committed file byte for byte.

    python3 Samples/make_sample.py [OUTPUT]
"""
import json
import os
import struct
import sys

import numpy as np

HIDDEN = 128
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS
INTERMEDIATE = 352
LAYERS = 2
VOCAB = 1024
SEED = 20261129

rng = np.random.default_rng(SEED)


def weight(rows, cols, outliers=4):
    """normal(0, 0.02) with a few outliers of magnitude 0.2-0.6, as float32."""
    values = rng.normal(0.0, 0.02, size=(rows, cols)).astype(np.float32)
    for _ in range(outliers):
        r, c = rng.integers(rows), rng.integers(cols)
        values[r, c] = rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.6)
    return values


def norm(size):
    return (1.0 + rng.normal(0.0, 0.05, size=size)).astype(np.float32)


def to_bf16_bits(values):
    """float32 -> bfloat16 bit patterns, rounding to nearest even (as torch does)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype(np.uint16)


def encode(values, dtype):
    if dtype == "F16":
        return values.astype("<f2").tobytes()
    if dtype == "BF16":
        return to_bf16_bits(values).astype("<u2").tobytes()
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    raise ValueError(dtype)


def tensors():
    """(name, dtype, float32 values) in the order a llama checkpoint lists them."""
    yield "model.embed_tokens.weight", "F16", weight(VOCAB, HIDDEN)
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}"
        mlp_dtype = "BF16" if layer == LAYERS - 1 else "F16"
        yield f"{prefix}.self_attn.q_proj.weight", "F16", weight(HEADS * HEAD_DIM, HIDDEN)
        yield f"{prefix}.self_attn.k_proj.weight", "F16", weight(KV_HEADS * HEAD_DIM, HIDDEN)
        yield f"{prefix}.self_attn.v_proj.weight", "F16", weight(KV_HEADS * HEAD_DIM, HIDDEN)
        yield f"{prefix}.self_attn.o_proj.weight", "F16", weight(HIDDEN, HEADS * HEAD_DIM)
        yield f"{prefix}.mlp.gate_proj.weight", mlp_dtype, weight(INTERMEDIATE, HIDDEN)
        yield f"{prefix}.mlp.up_proj.weight", mlp_dtype, weight(INTERMEDIATE, HIDDEN)
        yield f"{prefix}.mlp.down_proj.weight", mlp_dtype, weight(HIDDEN, INTERMEDIATE)
        yield f"{prefix}.input_layernorm.weight", "F32", norm(HIDDEN)
        yield f"{prefix}.post_attention_layernorm.weight", "F32", norm(HIDDEN)
    yield "model.norm.weight", "F32", norm(HIDDEN)
    yield "lm_head.weight", "F16", weight(VOCAB, HIDDEN)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "tiny-llama.safetensors")
    header = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    for name, dtype, values in tensors():
        data = encode(values, dtype)
        header[name] = {"dtype": dtype, "shape": list(values.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(output + ".tmp", "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for data in chunks:
            out.write(data)
    os.replace(output + ".tmp", output)
    print(f"{output}: {len(chunks)} tensors, {offset} data bytes")


if __name__ == "__main__":
    main()
