#!/usr/bin/env python3
"""GGUF F16 → Q8_0 GGUF: `swiftquant convert --preset llama-quantize` against llama.cpp's
`llama_model_quantize` (llama-quantize's function, from llama-cpp-python 0.3.36), same input.

The input is a llama-shaped model with random weights (~310 MB of F16, written with gguf-py by
Tests/Interop/llama_gguf_fixture.py). One warm-up run each (so both read from the page cache),
then RUNS runs alternating between the two; prints both medians and the ratio ours/theirs
(the target is ≤ 1.0). llama_model_quantize is timed inside this process (no process start);
swiftquant is timed as a whole process, its start included. Both use every core. CPU time
(user + system) is printed too: on a shared machine the wall times swing with the load, the
CPU times much less.

Run with SWIFTQUANT=<path to a release build of swiftquant>; RUNS (default 5) and
BENCH_DIR (default: a temporary folder) are optional.
"""
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "Interop"))
import numpy as np  # noqa: E402
from llama_gguf_fixture import write_llama_gguf  # noqa: E402

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")
RUNS = int(os.environ.get("RUNS", "5"))


def main():
    import llama_cpp
    silent = llama_cpp.llama_log_callback(lambda level, text, data: None)
    llama_cpp.llama_log_set(silent, ctypes.c_void_p())
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        source = os.path.join(folder, "llama-f16.gguf")
        write_llama_gguf(source, n_embd=1024, n_layer=7, n_head=16, n_head_kv=16, n_ff=2816, n_vocab=32000,
                         dtype=np.float16, seed=1, name="bench-llama")
        print(f"input: {os.path.getsize(source) / 1e6:.0f} MB F16 llama ({source})")
        theirs_out, ours_out = os.path.join(folder, "theirs.gguf"), os.path.join(folder, "ours.gguf")

        cpu = {"llama_model_quantize": [], "swiftquant": []}

        def cpu_seconds(who):
            usage = resource.getrusage(who)
            return usage.ru_utime + usage.ru_stime

        def theirs():
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
            cpu_start, start = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
            status = llama_cpp.llama_model_quantize(source.encode(), theirs_out.encode(), ctypes.byref(params))
            elapsed = time.perf_counter() - start
            cpu["llama_model_quantize"].append(cpu_seconds(resource.RUSAGE_SELF) - cpu_start)
            if status != 0:
                sys.exit(f"llama_model_quantize failed ({status})")
            return elapsed

        def ours():
            cpu_start, start = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run([SWIFTQUANT, "convert", source, "-o", ours_out, "--preset", "llama-quantize",
                            "--quiet", "--force"], check=True)
            elapsed = time.perf_counter() - start
            cpu["swiftquant"].append(cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_start)
            return elapsed

        theirs(), ours()  # warm-up: page cache, first-touch
        for values in cpu.values():
            values.clear()
        times = {"llama_model_quantize": [], "swiftquant": []}
        for _ in range(RUNS):
            times["llama_model_quantize"].append(theirs())
            times["swiftquant"].append(ours())
        same = open(theirs_out, "rb").read() == open(ours_out, "rb").read()
        theirs_median = statistics.median(times["llama_model_quantize"])
        ours_median = statistics.median(times["swiftquant"])
        for name, values in times.items():
            print(f"{name:22s} median {statistics.median(values):.3f} s  (CPU {statistics.median(cpu[name]):.3f} s)"
                  "  runs " + " ".join(f"{v:.3f}" for v in values))
        print(f"ratio swiftquant / llama_model_quantize: {ours_median / theirs_median:.2f} (target ≤ 1.0);"
              f" CPU time ratio {statistics.median(cpu['swiftquant']) / statistics.median(cpu['llama_model_quantize']):.2f}")
        print(f"output files byte-identical: {same} (tensors are compared in Tests/Interop/check_llama_cpp.py;"
              " metadata differs: tool keys)")


if __name__ == "__main__":
    main()
