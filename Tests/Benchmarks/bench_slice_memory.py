#!/usr/bin/env python3
"""Peak RSS converting a checkpoint whose largest tensor is 2 GiB (run by hand, not in CI).

Writes a safetensors file with one 2 GiB FP16 weight (262,144 × 4,096) plus a small one, and a
1 GiB FP32 weight kept as F16 by a rule (re-encoded slice by slice), then converts it with
/usr/bin/time to: .swq per channel, .swq per tensor (streaming absmax pass first), .swq with
min-snr-free per group 128, and Q8_0 GGUF. Target: peak RSS < 256 MiB with the default
64 MiB slices. With --compare, every output is converted once more as one slice
(`--slice-size 1000GB`, the unsliced path: several GiB of RSS) and the two files' SHA-256 must match.

usage: SWIFTQUANT=.build/release/swiftquant python3 Tests/Benchmarks/bench_slice_memory.py [--folder DIR] [--compare]
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys

import numpy as np

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")
BIG = ("model.layers.0.mlp.up_proj.weight", (262144, 4096), np.float16, "F16")
KEPT = ("model.layers.0.self_attn.q_proj.weight", (65536, 4096), np.float32, "F32")
SMALL = ("model.layers.0.self_attn.o_proj.weight", (1024, 1024), np.float16, "F16")


def write_source(path):
    tensors = [BIG, KEPT, SMALL]
    header, offset = {}, 0
    for name, shape, dtype, label in tensors:
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        header[name] = {"dtype": label, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape, dtype, _ in tensors:
            rows = shape[0]
            step = max(1, (64 << 20) // (shape[1] * 4))
            for start in range(0, rows, step):  # 64 MiB at a time: the generator stays small too
                block = rng.standard_normal((min(step, rows - start), shape[1]), dtype=np.float32) * 0.02
                f.write(block.astype(dtype).tobytes())
    with open(os.path.join(os.path.dirname(path), "config.json"), "w") as f:
        f.write('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')


def timed(command):
    result = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + command,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip()}")
    wall, rss = result.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", default="/tmp/swiftquant-slice-bench")
    parser.add_argument("--compare", action="store_true", help="also convert unsliced and compare SHA-256")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    source = os.path.join(args.folder, "big.safetensors")
    if not os.path.exists(source):
        write_source(source)
    rules = os.path.join(args.folder, "keep-f16.yaml")
    with open(rules, "w") as f:
        f.write('rules:\n  - match: "*.q_proj.weight"\n    action: keep\n    keep_dtype: f16\n')
    cases = [
        ("swq per channel", "out.swq", []),
        ("swq per tensor", "out-tensor.swq", ["--granularity", "per-tensor"]),
        ("swq per group 128", "out-group.swq", ["--granularity", "per-group", "--group-size", "128"]),
        ("gguf Q8_0", "out.gguf", []),
    ]
    size = os.path.getsize(source)
    print(f"source {size / 2**30:.2f} GiB, largest tensor {np.prod(BIG[1]) * 2 / 2**30:.2f} GiB (FP16), "
          f"a {np.prod(KEPT[1]) * 4 / 2**30:.2f} GiB FP32 tensor kept as F16")
    failures = 0
    for label, name, extra in cases:
        output = os.path.join(args.folder, name)
        command = [SWIFTQUANT, "convert", source, "-o", output, "--config", rules, "--force", "--quiet"] + extra
        wall, rss = timed(command)
        verdict = "ok" if rss < 256 * 1024 else "OVER 256 MiB"
        failures += rss >= 256 * 1024
        line = f"{label}: peak RSS {rss / 1024:.0f} MiB ({verdict}), {wall:.1f} s"
        if args.compare:
            whole = output + ".whole"
            wall_whole, rss_whole = timed(command[:4] + [whole] + command[5:] + ["--slice-size", "1000GB"])
            same = sha256(output) == sha256(whole)
            failures += not same
            line += f"; unsliced: {rss_whole / 1024:.0f} MiB, {wall_whole:.1f} s; identical: {same}"
            os.remove(whole)
        print(line, flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
