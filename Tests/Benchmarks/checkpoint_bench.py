#!/usr/bin/env python3
"""Checkpoint benchmarks (run by hand, not in CI). Each result is a ratio against a baseline
measured in the same run, on a synthetic llama-shaped FP16 checkpoint:

1. convert time vs `zstd -1 -T2` compressing the same source file (target ≤ 1.0);
2. load — open + decode + checksum every tensor (`swiftquant verify`) — vs `zstd -d` of the
   source compressed with zstd -1;
3. compressed INT8 size vs the order-0 entropy of the INT8 values (target within 2 %), with
   zstd levels 1 and 3 on the same values for comparison;
4. peak RSS converting a 2 GiB checkpoint (target < 512 MiB).

usage: SWIFTQUANT=.build/release/swiftquant python3 Tests/Benchmarks/checkpoint_bench.py [--folder DIR] [--repeat N]
convert's time includes the fsync that makes its output durable; the second convert line
gives zstd the same fsync. Wall times on a shared machine are noisy: each command runs N times (default 3), alternating
with its baseline, and the medians are compared; CPU seconds are shown too.
"""
import argparse
import os
import statistics
import subprocess
import sys

import numpy as np
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Interop"))
from swq_reader import read_checkpoint, tensor_values  # noqa: E402

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")


def timed(command):
    """(wall seconds, cpu seconds, peak RSS KiB) of a command, via /usr/bin/time."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + command,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip()}")
    wall, user, system, rss = result.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(rss)


def compare(name, ours, baseline, repeat):
    runs_ours, runs_base = [], []
    for _ in range(repeat):
        runs_base.append(timed(baseline))
        runs_ours.append(timed(ours))
    wall_ours = statistics.median(r[0] for r in runs_ours)
    wall_base = statistics.median(r[0] for r in runs_base)
    cpu_ours = statistics.median(r[1] for r in runs_ours)
    cpu_base = statistics.median(r[1] for r in runs_base)
    print(f"{name}: {wall_ours:.2f} s vs {wall_base:.2f} s → wall ratio {wall_ours / wall_base:.2f} "
          f"(CPU {cpu_ours:.2f} s vs {cpu_base:.2f} s → {cpu_ours / cpu_base:.2f})")
    return runs_ours


def entropy_bytes(values):
    counts = np.bincount(values.view(np.uint8).ravel(), minlength=256).astype(np.float64)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum() * values.size / 8)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", default="/tmp/swiftquant-bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    make = os.path.join(HERE, "make_llama_checkpoint.py")
    source = os.path.join(args.folder, "llama-1g.safetensors")
    big = os.path.join(args.folder, "llama-2g.safetensors")
    for path, gib in [(source, 1), (big, 2)]:
        if not os.path.exists(path):
            subprocess.run([sys.executable, make, path, str(gib)], check=True)
    output = os.path.join(args.folder, "llama-1g.swq")
    zst = os.path.join(args.folder, "llama-1g.safetensors.zst")
    subprocess.run(["cat", source], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

    convert = [SWIFTQUANT, "convert", source, "-o", output, "--force", "--quiet"]
    compare("convert 1 GiB FP16 → INT8 .swq vs zstd -1 -T2",
            convert, ["zstd", "-1", "-T2", "-q", "-f", source, "-o", zst], args.repeat)
    # convert fsyncs its output before the rename (atomic and durable); zstd does not.
    compare("convert vs zstd -1 -T2 + fsync of its output",
            convert, ["sh", "-c", f"zstd -1 -T2 -q -f '{source}' -o '{zst}' && sync '{zst}'"], args.repeat)
    compare("load (open + decode + checksum every tensor) vs zstd -d",
            [SWIFTQUANT, "verify", output], ["zstd", "-d", "-q", "-c", zst, "-o", "/dev/null"], args.repeat)

    data, _, entries = read_checkpoint(output)
    stored = entropy = level1 = level3 = 0
    for entry in entries:
        if not entry.quantization:
            continue
        values = tensor_values(data, entry)
        stored += entry.values.stored_length
        entropy += entropy_bytes(values)
        raw = values.tobytes()
        level1 += len(zstandard.ZstdCompressor(level=1).compress(raw))
        level3 += len(zstandard.ZstdCompressor(level=3).compress(raw))
    print(f"INT8 values: stored {stored / 1e6:.1f} MB vs order-0 entropy {entropy / 1e6:.1f} MB → ratio {stored / entropy:.4f} "
          f"(one-frame zstd -1: {level1 / entropy:.4f}, -3: {level3 / entropy:.4f}; raw {sum(e.values.raw_length for e in entries if e.quantization) / entropy:.4f})")
    total = os.path.getsize(output)
    print(f"file: {os.path.getsize(source) / 1e6:.0f} MB → {total / 1e6:.0f} MB ({total / os.path.getsize(source):.3f})")

    big_output = os.path.join(args.folder, "llama-2g.swq")
    subprocess.run(["cat", big], stdout=subprocess.DEVNULL, check=True)
    wall, cpu, rss = timed([SWIFTQUANT, "convert", big, "-o", big_output, "--force", "--quiet"])
    size = os.path.getsize(big)
    print(f"peak RSS converting {size / 2**30:.2f} GiB: {rss / 1024:.0f} MiB ({rss * 1024 / size:.3f} of the input; target < 512 MiB) in {wall:.1f} s")


if __name__ == "__main__":
    main()
