#!/usr/bin/env python3
"""QuantizedLinear (Swift, INT8 weights) against numpy's fp32 x @ W.T (OpenBLAS) on the same
8192×8192 shape, measured side by side in one run. Not part of CI (it takes about a minute).

numpy is timed before and after each run of the Swift cases and the two medians are averaged,
so that a change in machine load shows up in both numbers alike; this repeats for several
rounds and the median ratio is reported (on a shared machine single rounds scatter widely).

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
    parser.add_argument("--rounds", type=int, default=3)
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
    ratios = {batch: [] for batch in CASES}
    rows = []
    before = numpy_medians(weight, args.repetitions)
    for round_index in range(args.rounds):
        result = subprocess.run(
            [swiftquant, "bench", "--json", "--repetitions", str(args.repetitions), *CASES.values()],
            capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"bench_linear_vs_numpy: swiftquant bench failed: {result.stderr.strip()}")
        swift = {entry["name"]: entry for entry in json.loads(result.stdout)}
        after = numpy_medians(weight, args.repetitions)
        for batch, name in CASES.items():
            numpy_seconds = (before[batch] + after[batch]) / 2
            entry = swift[name]
            ratios[batch].append(entry["median_seconds"] / numpy_seconds)
            rows.append((round_index, name, entry, numpy_seconds, ratios[batch][-1]))
        before = after

    print(f"{'round':5} {'case':28} {'swift int8':>11} {'swift fp32':>11} {'numpy fp32':>11} {'int8/numpy':>11}")
    for round_index, name, entry, numpy_seconds, ratio in rows:
        print(f"{round_index:5} {name:28} {entry['median_seconds'] * 1e3:9.2f}ms {entry['fp32_median_seconds'] * 1e3:9.2f}ms "
              f"{numpy_seconds * 1e3:9.2f}ms {ratio:11.3f}")
    met = True
    for batch, name in CASES.items():
        ratio = statistics.median(ratios[batch])
        ok = ratio <= TARGETS[batch]
        met &= ok
        print(f"{name}: median int8/numpy {ratio:.3f} over {args.rounds} rounds "
              f"(target ≤ {TARGETS[batch]}): {'ok' if ok else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
