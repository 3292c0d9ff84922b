"""Seed inputs for the fuzz targets: small, valid files of each format written by the peers'
own libraries (safetensors, gguf-py), so the fuzzer starts from real structure.

    python3 make_seeds.py safetensors|gguf|config OUTPUT_FOLDER
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def safetensors_seeds(out):
    from safetensors.numpy import save

    rng = np.random.default_rng(7)
    files = {
        "small": {"a.weight": rng.standard_normal((4, 8)).astype(np.float16),
                  "a.bias": rng.standard_normal(8).astype(np.float32)},
        "dtypes": {"i8": np.arange(6, dtype=np.int8).reshape(2, 3), "i64": np.arange(2, dtype=np.int64),
                   "f64": np.ones((1, 2)), "u8": np.zeros(3, dtype=np.uint8), "bool": np.array([True, False])},
        # Big enough that zstd pays off, so converted checkpoint seeds hold compressed chunks.
        "medium": {"layer.weight": rng.standard_normal((64, 128)).astype(np.float16),
                   "norm.weight": np.ones(128, dtype=np.float32)},
        "empty-and-scalar": {"empty": np.zeros((0, 4), dtype=np.float32), "scalar": np.array(1.5, dtype=np.float32)},
    }
    for name, tensors in files.items():
        with open(os.path.join(out, f"{name}.safetensors"), "wb") as f:
            f.write(save(tensors, metadata={"format": "pt"} if name == "small" else None))
    with open(os.path.join(out, "empty-header.safetensors"), "wb") as f:
        f.write((8).to_bytes(8, "little") + b"{}      ")
    # The sample's header with its first tensors' bytes only (the whole sample is 1.2 MB).
    with open(os.path.join(ROOT, "Samples", "tiny-llama.safetensors"), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = f.read(n)
    with open(os.path.join(out, "tiny-llama-header.safetensors"), "wb") as f:
        f.write(n.to_bytes(8, "little") + header + bytes(4096))


def gguf_seeds(out):
    import gguf

    rng = np.random.default_rng(7)
    for name, alignment in (("small", None), ("aligned64", 64)):
        path = os.path.join(out, f"{name}.gguf")
        writer = gguf.GGUFWriter(path, "llama")
        if alignment:
            writer.add_custom_alignment(alignment)
        writer.add_name("fuzz seed")
        writer.add_uint32("test.u32", 7)
        writer.add_int64("test.i64", -3)
        writer.add_float64("test.f64", 0.5)
        writer.add_bool("test.bool", True)
        writer.add_array("test.strings", ["a", "bc"])
        writer.add_array("test.ints", [1, 2, 3])
        weight = rng.standard_normal((2, 64)).astype(np.float32)
        writer.add_tensor("blk.0.attn_q.weight", gguf.quants.quantize(weight, gguf.GGMLQuantizationType.Q8_0),
                          raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor("blk.0.attn_norm.weight", rng.standard_normal(8).astype(np.float32))
        writer.add_tensor("token_embd.weight", rng.standard_normal((3, 4)).astype(np.float16))
        writer.add_tensor("i32", np.arange(4, dtype=np.int32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


def config_seeds(out):
    configs = {
        "rules.json": {"granularity": "per-group", "group_size": 32, "rules": [
            {"match": "re:.*attn.*", "layers": [0, -1], "action": "quantize", "min_snr_db": 30},
            {"match": ["lm_head.weight", "*.norm*"], "action": "keep", "keep_dtype": "f16"}]},
        "minimal.json": {"rules": []},
    }
    for name, value in configs.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(value, f)
    with open(os.path.join(out, "anchors.yaml"), "w") as f:
        f.write("defaults: false\nrules:\n  - &r {match: '*.weight', action: keep, dtypes: [F16, BF16]}\n"
                "  - *r\n  - match: |\n      model.layers.*\n    min_elements: 1024\n")


if __name__ == "__main__":
    kind, folder = sys.argv[1], sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    {"safetensors": safetensors_seeds, "gguf": gguf_seeds, "config": config_seeds}[kind](folder)
