#!/usr/bin/env python3
"""An independent Python reader written from Specs/swiftquant-checkpoint.md (swq_reader.py)
reads what `swiftquant convert` writes — compressed and uncompressed, MiniLM and a fixture
with every dtype — and agrees byte for byte with `swiftquant export --layout int8`."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_export_bitexact import fixtures, load_file, write_safetensors  # noqa: E402
from swq_reader import read_checkpoint, tensor_scales, tensor_values  # noqa: E402

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")
HERE = os.path.dirname(os.path.abspath(__file__))
MINILM = os.path.join(HERE, "..", "..", "..", "shared", "models", "all-MiniLM-L6-v2", "model.safetensors")


def run(args):
    result = subprocess.run([SWIFTQUANT] + args, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"swiftquant {' '.join(args)} failed: {result.stderr.strip()}")


def compare(checkpoint, exported, failures):
    data, metadata, entries = read_checkpoint(checkpoint)
    reference = load_file(exported)
    if "general.tool" not in metadata:
        failures.append(f"{checkpoint}: no general.tool metadata")
    for entry in entries:
        values = tensor_values(data, entry)
        if not np.array_equal(values.view(np.uint8), reference[entry.name].view(np.uint8)):
            failures.append(f"{checkpoint}: {entry.name} values differ")
        if entry.quantization:
            scales = tensor_scales(data, entry)
            if not np.array_equal(scales.view(np.uint32), reference[entry.name + "_scale"].reshape(-1).view(np.uint32)):
                failures.append(f"{checkpoint}: {entry.name} scales differ")
    return len(entries)


def main():
    failures, count = [], 0
    with tempfile.TemporaryDirectory() as folder:
        sources = []
        for dtype, tensors in fixtures(np.random.default_rng(3)).items():
            path = os.path.join(folder, f"{dtype}.safetensors")
            write_safetensors(path, tensors)
            sources.append(path)
        if os.path.exists(MINILM):
            sources.append(MINILM)
        else:
            failures.append(f"MiniLM not found at {MINILM}")
        for index, source in enumerate(sources):
            for extra in [[], ["--no-compression"], ["--granularity", "per-group", "--group-size", "32"]]:
                checkpoint = os.path.join(folder, f"{index}-{len(extra)}.swq")
                run(["convert", source, "-o", checkpoint, "--quiet", "--force"] + extra)
                exported = checkpoint + ".safetensors"
                run(["export", checkpoint, "-o", exported, "--layout", "int8", "--force", "--quiet"])
                count += compare(checkpoint, exported, failures)
    for failure in failures[:20]:
        print("FAIL:", failure)
    print(f"check_checkpoint_spec_reader: {count} tensors read independently, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
