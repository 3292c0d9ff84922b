#!/usr/bin/env python3
"""`swiftquant inspect --json` must report what Python's safetensors reports.

For each input, compares tensor names, dtypes, shapes, byte sizes and metadata with
safetensors.safe_open. Inputs: the real all-MiniLM-L6-v2, Samples/tiny-llama.safetensors,
a file with every dtype numpy can write, and a sharded folder (written here with
safetensors.numpy.save_file plus an index) opened both as the folder and as the index file.

Environment: SWIFTQUANT = path of the swiftquant binary. Exits 1 on any mismatch.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import MINILM_SAFETENSORS as MINILM, ROOT, failures  # noqa: E402

# Unlike the other checks, an unset SWIFTQUANT means this checkout's release build.
SWIFTQUANT = os.environ.get("SWIFTQUANT") or os.path.join(ROOT, ".build", "release", "swiftquant")
SAMPLE = os.path.join(ROOT, "Samples", "tiny-llama.safetensors")

# Bits per element of each dtype, for the byte sizes Python does not report directly.
BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
    "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}


def python_view(files):
    """{name: (dtype, shape, bytes)} and merged metadata, as safetensors reads `files`."""
    tensors, metadata = {}, {}
    for path in files:
        with safe_open(path, framework="np") as f:
            for name in f.keys():
                view = f.get_slice(name)
                dtype, shape = view.get_dtype(), list(view.get_shape())
                count = int(np.prod(shape, dtype=np.int64)) if shape else 1
                tensors[name] = (dtype, shape, count * BITS[dtype] // 8)
            for key, value in (f.metadata() or {}).items():
                metadata.setdefault(key, value)
    return tensors, metadata


def inspect(path):
    result = subprocess.run([SWIFTQUANT, "inspect", "--json", path], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"swiftquant inspect {path} exited {result.returncode}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def compare(label, path, files, extra_metadata=None):
    try:
        report = inspect(path)
    except Exception as error:  # noqa: BLE001 - any failure is a mismatch to report
        failures.append(f"{label}: {error}")
        return
    expected, metadata = python_view(files)
    metadata.update(extra_metadata or {})
    if report.get("format") != "safetensors":
        failures.append(f"{label}: format {report.get('format')!r}, expected 'safetensors'")
    if set(report) != {"format", "tensors", "metadata"}:
        failures.append(f"{label}: top-level keys {sorted(report)}")
    ours = {}
    for tensor in report["tensors"]:
        if set(tensor) != {"name", "dtype", "shape", "bytes"}:
            failures.append(f"{label}: tensor keys {sorted(tensor)}")
        if tensor["name"] in ours:
            failures.append(f"{label}: {tensor['name']} listed twice")
        ours[tensor["name"]] = (tensor["dtype"], tensor["shape"], tensor["bytes"])
    for name in sorted(set(expected) | set(ours)):
        if expected.get(name) != ours.get(name):
            failures.append(f"{label}: {name}: swiftquant {ours.get(name)}, safetensors {expected.get(name)}")
    if report["metadata"] != metadata:
        failures.append(f"{label}: metadata {report['metadata']}, expected {metadata}")
    print(f"check_inspect_safetensors: {label}: {len(ours)} tensors compared")


def main():
    if not os.path.exists(SWIFTQUANT):
        print(f"check_inspect_safetensors: {SWIFTQUANT} not found; build it or set SWIFTQUANT", file=sys.stderr)
        return 1
    compare("all-MiniLM-L6-v2", MINILM, [MINILM])
    compare("tiny-llama sample", SAMPLE, [SAMPLE])

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as folder:
        every = os.path.join(folder, "every-dtype.safetensors")
        save_file({
            "bool": np.array([True, False, True]), "u8": np.arange(5, dtype=np.uint8),
            "i8": np.arange(-3, 3, dtype=np.int8), "i16": np.zeros((2, 2), np.int16),
            "u16": np.zeros(3, np.uint16), "f16": rng.normal(size=(3, 5)).astype(np.float16),
            "i32": np.zeros(1, np.int32), "u32": np.zeros((1, 1, 1), np.uint32),
            "f32": rng.normal(size=(4,)).astype(np.float32), "f64": np.zeros((2, 3), np.float64),
            "i64": np.zeros(2, np.int64), "u64": np.zeros(2, np.uint64),
            "c64": np.zeros(2, np.complex64), "scalar": np.array(1.5, np.float32),
            "empty": np.zeros((0, 7), np.float32),
        }, every, metadata={"format": "np", "note": "every dtype"})
        compare("every numpy dtype", every, [every])

        shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        shards = [
            {"model.embed.weight": rng.normal(size=(16, 8)).astype(np.float16),
             "model.layers.0.weight": rng.normal(size=(8, 8)).astype(np.float32)},
            {"model.layers.1.weight": rng.normal(size=(8, 8)).astype(np.float32),
             "lm_head.weight": rng.normal(size=(16, 8)).astype(np.float16)},
        ]
        weight_map, total = {}, 0
        for name, tensors in zip(shard_names, shards):
            save_file(tensors, os.path.join(folder, name), metadata={"format": "pt"})
            for tensor_name, array in tensors.items():
                weight_map[tensor_name] = name
                total += array.nbytes
        index = os.path.join(folder, "model.safetensors.index.json")
        with open(index, "w") as out:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, out)
        shard_paths = [os.path.join(folder, name) for name in shard_names]
        compare("sharded folder", folder, shard_paths, {"total_size": total})
        compare("sharded index file", index, shard_paths, {"total_size": total})
        os.remove(every)
        os.remove(index)
        compare("folder without index", folder, shard_paths)

    for failure in failures:
        print(f"check_inspect_safetensors: MISMATCH {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
