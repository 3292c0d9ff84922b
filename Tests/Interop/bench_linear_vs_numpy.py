#!/usr/bin/env python3
"""QuantizedLinear (Swift, INT8 weights) against numpy's fp32 x @ W.T (OpenBLAS) on the same
8192×8192 shape, measured side by side in one run. Not part of CI (it takes about a minute).

numpy is timed before and after the Swift cases and the two medians are averaged, so that a
change in machine load during the run shows up in both numbers alike.

Targets (issue 5): batch 1 ≤ 0.4× numpy's time, batch 32 ≤ 2× numpy's time.

Usage: SWIFTQUANT=.build/release/swiftquant python3 Tests/Interop/bench_linear_vs_numpy.py [--repetitions N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

CASES = {1: "linear-int8-8192x8192-b1", 32: "linear-int8-8192x8192-b32"}
TARGETS = {1: 0.4, 32: 2.0}
N = K = 8192


def numpy_medians(weight, repetitions):
    medians = {}
    for batch in CASES:
        x = np.random.default_rng(batch).standard_normal((batch, K), dtype=np.float32)
        x @ weight.T  # warm-up
        times = []
        for _ in range(repetitions):
            start = time.perf_counter()
            x @ weight.T
            times.append(time.perf_counter() - start)
        medians[batch] = statistics.median(times)
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=9)
    args = parser.parse_args()
    swiftquant = os.environ.get("SWIFTQUANT")
    if not swiftquant:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        subprocess.run(["swift", "build", "-c", "release", "--product", "swiftquant"], cwd=root, check=True,
                       stdout=subprocess.DEVNULL)
        bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, check=True,
                                  capture_output=True, text=True).stdout.strip()
        swiftquant = os.path.join(bin_path, "swiftquant")

    weight = (np.random.default_rng(0).standard_normal((N, K), dtype=np.float32) * 0.05)
    before = numpy_medians(weight, args.repetitions)
    result = subprocess.run([swiftquant, "bench", "--json", "--repetitions", str(args.repetitions), *CASES.values()],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bench_linear_vs_numpy: swiftquant bench failed: {result.stderr.strip()}")
    swift = {entry["name"]: entry for entry in json.loads(result.stdout)}
    after = numpy_medians(weight, args.repetitions)

    print(f"{'case':32} {'swift int8':>11} {'swift fp32':>11} {'numpy fp32':>11} {'int8/numpy':>11} {'target':>7}")
    met = True
    for batch, name in CASES.items():
        numpy_seconds = (before[batch] + after[batch]) / 2
        entry = swift[name]
        ratio = entry["median_seconds"] / numpy_seconds
        ok = ratio <= TARGETS[batch]
        met &= ok
        print(f"{name:32} {entry['median_seconds'] * 1e3:9.2f}ms {entry['fp32_median_seconds'] * 1e3:9.2f}ms "
              f"{numpy_seconds * 1e3:9.2f}ms {ratio:11.3f} {'≤' + str(TARGETS[batch]):>6} {'ok' if ok else 'MISSED'}")
        print(f"{'':32} numpy before/after: {before[batch] * 1e3:.2f} / {after[batch] * 1e3:.2f} ms; "
              f"int8 {entry['weight_gb_per_s']:.1f} GB/s of weights, {entry['gflop_per_s']:.1f} GFLOP/s")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
