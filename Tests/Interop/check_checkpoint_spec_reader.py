#!/usr/bin/env python3
"""An independent Python reader written from Specs/swiftquant-checkpoint.md (swq_reader.py)
reads what `swiftquant convert` writes — compressed and uncompressed, MiniLM and a fixture
with every dtype — and agrees byte for byte with `swiftquant export --layout int8`."""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_export_bitexact import fixtures, load_file  # noqa: E402
from interop_support import MINILM_SAFETENSORS, MODELS_HINT, finish, run, write_safetensors  # noqa: E402
from swq_reader import read_checkpoint, tensor_scales, tensor_values  # noqa: E402


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
        if os.path.exists(MINILM_SAFETENSORS):
            sources.append(MINILM_SAFETENSORS)
        else:
            failures.append(f"MiniLM not found at {MINILM_SAFETENSORS}: {MODELS_HINT}")
        for index, source in enumerate(sources):
            for extra in [[], ["--no-compression"], ["--granularity", "per-group", "--group-size", "32"]]:
                checkpoint = os.path.join(folder, f"{index}-{len(extra)}.swq")
                run(["convert", source, "-o", checkpoint, "--quiet", "--force"] + extra)
                exported = checkpoint + ".safetensors"
                run(["export", checkpoint, "-o", exported, "--layout", "int8", "--force", "--quiet"])
                count += compare(checkpoint, exported, failures)
    return finish(failures, f"check_checkpoint_spec_reader: {count} tensors read independently, "
                            f"{len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
