#!/usr/bin/env python3
"""Writes a synthetic llama-shaped FP16 safetensors checkpoint of about SIZE GiB for the
checkpoint benchmarks (TinyLlama dimensions: hidden 2048, MLP 5632, 4 KV heads of 64, vocab
32000; layers are added until the size is reached). Weights are Gaussian with std 0.02,
like trained transformer weights; norms are ones.

usage: make_llama_checkpoint.py OUT.safetensors SIZE_GIB
"""
import json
import struct
import sys

import numpy as np


def main():
    path, gib = sys.argv[1], float(sys.argv[2])
    hidden, mlp, kv, vocab = 2048, 5632, 256, 32000
    layer_shapes = [
        ("input_layernorm.weight", (hidden,)),
        ("self_attn.q_proj.weight", (hidden, hidden)),
        ("self_attn.k_proj.weight", (kv, hidden)),
        ("self_attn.v_proj.weight", (kv, hidden)),
        ("self_attn.o_proj.weight", (hidden, hidden)),
        ("post_attention_layernorm.weight", (hidden,)),
        ("mlp.gate_proj.weight", (mlp, hidden)),
        ("mlp.up_proj.weight", (mlp, hidden)),
        ("mlp.down_proj.weight", (hidden, mlp)),
    ]
    per_layer = sum(int(np.prod(s)) for _, s in layer_shapes) * 2
    fixed = (2 * vocab * hidden + hidden) * 2
    layers = max(1, int((gib * 2**30 - fixed) // per_layer))
    tensors = [("model.embed_tokens.weight", (vocab, hidden))]
    for layer in range(layers):
        tensors += [(f"model.layers.{layer}.{name}", shape) for name, shape in layer_shapes]
    tensors += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors:
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape in tensors:
            if len(shape) == 1:
                values = np.ones(shape, dtype=np.float16)
            else:
                values = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
            f.write(values.tobytes())
    print(f"{path}: {layers} layers, {offset / 2**30:.2f} GiB of tensors")


if __name__ == "__main__":
    main()
