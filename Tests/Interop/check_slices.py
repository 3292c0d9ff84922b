#!/usr/bin/env python3
"""Slice-by-slice conversion (`convert --slice-size`) against the whole-tensor path and numpy.

A small model whose tensors are larger than the slice budget is converted with the default
budget (every tensor whole), with slices aligned to the metrics' reduction chunks (256 KiB:
the files must be byte-identical), and with a tiny budget (4 KiB: GGUF byte-identical; the
checkpoint's codes, scales and kept values identical, the metrics equal within float
summation order). The sliced codes and scales are also checked against symmetric INT8
computed here in numpy (scale = max|w| / 127, round half to even), per channel and per tensor.
"""
import hashlib
import os
import sys
import tempfile

import numpy as np

from interop_support import array_entry, encode_float, fail, exit_if_failed, run, write_safetensors
from swq_reader import read_checkpoint, tensor_scales, tensor_values

CHECK = "check_slices"


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def reference_int8(w, per_tensor):
    """Symmetric INT8 with the reference semantics, computed in float32."""
    w = w.astype(np.float32)
    amax = np.abs(w).max() if per_tensor else np.abs(w).max(axis=1, keepdims=True)
    scale = (np.float32(amax) / np.float32(127)).astype(np.float32)
    scale = np.where(scale == 0, np.float32(1), scale).astype(np.float32)
    return np.clip(np.round(w / scale), -128, 127).astype(np.int8), np.atleast_1d(scale).ravel()


def main():
    folder = tempfile.mkdtemp(prefix="check-slices-")
    rng = np.random.default_rng(4)
    up = (rng.standard_normal((2048, 256)) * 0.05).astype(np.float16)
    o = (rng.standard_normal((1024, 128)) * 0.05).astype(np.float32)
    o[900, 3] = 2.5  # the per-tensor scale comes from the last slice
    q = (rng.standard_normal((512, 256)) * 0.05).astype(np.float32)
    source = os.path.join(folder, "model.safetensors")
    write_safetensors(source, {
        "model.layers.0.mlp.up_proj.weight": array_entry(up),
        "model.layers.0.self_attn.o_proj.weight": array_entry(o),
        "model.layers.0.self_attn.q_proj.weight": array_entry(q),
        "model.norm.weight": ("F32", (256,), encode_float(np.ones(256, np.float32), "F32")),
    })
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    rules = os.path.join(folder, "rules.yaml")
    with open(rules, "w") as f:
        f.write('rules:\n  - match: "*.o_proj.weight"\n    granularity: per-tensor\n'
                '  - match: "*.q_proj.weight"\n    action: keep\n    keep_dtype: f16\n')

    def convert(name, *extra):
        path = os.path.join(folder, name)
        # llama-named tensors, not a whole llama: GGUF output keeps their own names (--arch).
        arch = ["--arch", "llama"] if name.endswith(".gguf") else []
        run(["convert", source, "-o", path, "--config", rules, "--force", "--quiet", *arch, *extra])
        return path

    whole_swq, whole_gguf = convert("whole.swq"), convert("whole.gguf")
    aligned_swq, aligned_gguf = convert("aligned.swq", "--slice-size", "256KiB"), convert("aligned.gguf", "--slice-size", "256KiB")
    tiny_swq, tiny_gguf = convert("tiny.swq", "--slice-size", "4KiB"), convert("tiny.gguf", "--slice-size", "4KiB")
    for label, a, b in [("aligned .swq", whole_swq, aligned_swq), ("aligned .gguf", whole_gguf, aligned_gguf),
                        ("tiny .gguf", whole_gguf, tiny_gguf)]:
        if sha(a) != sha(b):
            fail(f"{label}: differs from the whole-tensor output")

    data_w, _, entries_w = read_checkpoint(whole_swq)
    data_t, _, entries_t = read_checkpoint(tiny_swq)
    compared = 0
    for ew, et in zip(entries_w, entries_t):
        if ew.name != et.name or ew.dtype != et.dtype or ew.quantization != et.quantization:
            fail(f"{ew.name}: entry differs ({et.name}, {et.dtype}, {et.quantization})")
            continue
        if not np.array_equal(tensor_values(data_w, ew), tensor_values(data_t, et)):
            fail(f"{ew.name}: values differ with 4 KiB slices")
        if ew.quantization:
            if not np.array_equal(tensor_scales(data_w, ew), tensor_scales(data_t, et)):
                fail(f"{ew.name}: scales differ with 4 KiB slices")
            for k, (x, y) in enumerate(zip(ew.metrics, et.metrics)):
                if not (x == y or abs(x - y) <= 1e-5 * abs(x)):
                    fail(f"{ew.name}: metric {k} {x} whole vs {y} sliced")
            compared += 1
    expected = {
        "model.layers.0.mlp.up_proj.weight": reference_int8(up, per_tensor=False),
        "model.layers.0.self_attn.o_proj.weight": reference_int8(o, per_tensor=True),
    }
    for entry in entries_t:
        if entry.name in expected:
            codes, scales = expected[entry.name]
            if not np.array_equal(tensor_values(data_t, entry), codes):
                fail(f"{entry.name}: sliced codes differ from numpy's ({entry.quantization})")
            if not np.array_equal(tensor_scales(data_t, entry), scales):
                fail(f"{entry.name}: sliced scales differ from numpy's")
        if entry.name.endswith("q_proj.weight") and not np.array_equal(
                tensor_values(data_t, entry).view(np.float16), q.astype(np.float16)):
            fail(f"{entry.name}: kept F16 values differ from numpy's cast")
    exit_if_failed(CHECK)
    print(f"{CHECK}: 256 KiB slices byte-identical (.swq, .gguf); 4 KiB slices: .gguf identical, "
          f"{compared} quantized tensors' codes and scales identical, metrics within 1e-5; numpy agrees")


if __name__ == "__main__":
    sys.exit(main())
