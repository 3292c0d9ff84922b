#!/usr/bin/env python3
"""Hugging Face BERT folder (all-MiniLM-L6-v2) → Q8_0 GGUF, in one step each:
`swiftquant convert DIR -o X.gguf --preset llama-quantize` against llama.cpp's
`convert_hf_to_gguf.py DIR --outtype q8_0` (from the llama-cpp-python 0.3.36 sdist).

Both are timed as whole processes (start-up, Python/torch imports and model loading included:
that is what a user waits for). One warm-up run each (page cache), then RUNS runs alternating
between the two; prints the medians, every run, CPU time, and the ratio ours/theirs (the
target is ≤ 0.5), then how many tensors each made Q8_0 and how many are identical.

Run with SWIFTQUANT=<path to a release build of swiftquant>; RUNS (default 3), MODEL_DIR
(default: the MiniLM folder by the tests' rule) and LLAMA_CPP_SOURCE are optional.
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "Interop"))
from interop_support import MINILM_DIR, llama_cpp_dir  # noqa: E402

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")
RUNS = int(os.environ.get("RUNS", "3"))
MODEL_DIR = os.environ.get("MODEL_DIR", MINILM_DIR)


def timed(args):
    cpu_start = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    cpu_end = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (cpu_end.ru_utime + cpu_end.ru_stime) - (cpu_start.ru_utime + cpu_start.ru_stime)


def tensors(path):
    import gguf
    return {t.name: (t.tensor_type.name, t.data.tobytes()) for t in gguf.GGUFReader(path).tensors}


def q8_0_count(path):
    import gguf
    reader = gguf.GGUFReader(path)
    return sum(1 for t in reader.tensors if t.tensor_type.name == "Q8_0"), len(reader.tensors)


def main():
    source_dir = llama_cpp_dir()
    if source_dir is None:
        sys.exit("convert_hf_to_gguf.py not found; set LLAMA_CPP_SOURCE")
    with tempfile.TemporaryDirectory() as folder:
        theirs_out, ours_out = os.path.join(folder, "theirs.gguf"), os.path.join(folder, "ours.gguf")
        commands = {
            "convert_hf_to_gguf.py": [sys.executable, os.path.join(source_dir, "convert_hf_to_gguf.py"), MODEL_DIR,
                                      "--outtype", "q8_0", "--outfile", theirs_out],
            "swiftquant": [SWIFTQUANT, "convert", MODEL_DIR, "-o", ours_out, "--preset", "llama-quantize",
                           "--quiet", "--force"],
        }
        for command in commands.values():
            timed(command)  # warm-up
        times = {name: [] for name in commands}
        cpu = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, command in commands.items():
                elapsed, cpu_seconds = timed(command)
                times[name].append(elapsed)
                cpu[name].append(cpu_seconds)
        for name in commands:
            print(f"{name:22s} median {statistics.median(times[name]):.3f} s  (CPU {statistics.median(cpu[name]):.3f} s)"
                  "  runs " + " ".join(f"{v:.3f}" for v in times[name]))
        ratio = statistics.median(times["swiftquant"]) / statistics.median(times["convert_hf_to_gguf.py"])
        cpu_ratio = statistics.median(cpu["swiftquant"]) / statistics.median(cpu["convert_hf_to_gguf.py"])
        print(f"ratio swiftquant / convert_hf_to_gguf.py: {ratio:.3f} (target ≤ 0.5); CPU time ratio {cpu_ratio:.3f}")
        for label, path in (("convert_hf_to_gguf.py q8_0", theirs_out), ("swiftquant --preset llama-quantize", ours_out)):
            quantized, total = q8_0_count(path)
            print(f"{label}: {quantized}/{total} tensors Q8_0, {os.path.getsize(path) / 1e6:.1f} MB")
        theirs_tensors, ours_tensors = tensors(theirs_out), tensors(ours_out)
        same = sum(1 for name, value in theirs_tensors.items() if ours_tensors.get(name) == value)
        print(f"tensors identical (name, type, bytes): {same}/{len(theirs_tensors)}")


if __name__ == "__main__":
    main()
