#!/usr/bin/env python3
"""The Swift mirror of rotalabs_accel against rotalabs-accel 1.1.1 itself, run in PyTorch.

Corpus: random F32/F16/BF16 weights (exact .5 ties, zero rows, F32 subnormals, Float16 rows
whose scale underflows, a 1xN and an Nx1 matrix, a square one) and every 2-D MiniLM weight in
F32, F16 and BF16. For every quantize dim (None, 0, 1, -1), dequantize dim (None, 0, 1) and
dequantize dtype, it compares codes, scales, dequantized values and the four metrics, plus
quantize_weight_per_channel, QuantizedLinear's weight_int8 / weight_scale and forward on F32
and F16 activations. Where the reference raises, the mirror must throw.

Exact (bit for bit): codes, scales, dequantized values, max_abs_error, relative_error_pct,
weight_int8 / weight_scale. Up to Float32 summation order: mean_abs_error and snr_db (PyTorch
sums in Float32 in its own order, the mirror in Double; allowed 8 Float32 ulps), forward
outputs (PyTorch's CPU GEMM accumulates in its own order: F16 outputs within 1 ulp, F32
within the accumulation bound). The exact-equality counts of those are printed too.

The Swift side is the test-only executable `rotalabs-mirror` ($ROTALABS_MIRROR, else
.build/release/rotalabs-mirror, which this check builds with `swift build -c release
--product rotalabs-mirror` when it is absent; the debug build is too slow for MiniLM).
It also runs the reference's Quick Start, and the Swift port in SeedExamples (`swift test
--skip-build --filter SeedExamples`, so the tests must be built) with
$SWIFTQUANT_QUICKSTART_EXPECTED naming the lines the reference printed.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import MINILM_SAFETENSORS, ROOT, finish, read_safetensors, write_safetensors  # noqa: E402

try:
    import torch
    from rotalabs_accel.quantization.symmetric import (
        QuantizedLinear, calculate_quantization_error, dequantize, quantize_symmetric, quantize_weight_per_channel)
except ImportError as error:
    raise SystemExit(f"check_rotalabs: needs rotalabs-accel==1.1.1 and torch==2.13.0+cpu ({error}); run Tests/setup.sh")

MIRROR = os.environ.get("ROTALABS_MIRROR", os.path.join(ROOT, ".build", "release", "rotalabs-mirror"))
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}
QDIMS = [None, 0, 1, -1]
DDIMS = [None, 0, 1]
METRIC_KEYS = ["max_abs_error", "mean_abs_error", "relative_error_pct", "snr_db"]
SUM_ULPS = 8

torch.manual_seed(11)
found = []
counts = {"exact": 0, "values": 0, "errors_matched": 0, "sum_exact": 0, "sum_total": 0,
          "fwd_exact": 0, "fwd_total": 0}


def label(dim):
    return "none" if dim is None else str(dim)


def raw(t):
    """A tensor's little-endian bytes."""
    t = t.detach().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def bits(dtype, data):
    """Raw bytes as unsigned integers of the element width, for exact comparison."""
    width = {"F32": np.uint32, "F16": np.uint16, "BF16": np.uint16, "I8": np.uint8}[dtype]
    return np.frombuffer(data, dtype=width)


def as_float32(dtype, data):
    b = bits(dtype, data)
    if dtype == "F32":
        return b.view(np.float32)
    if dtype == "F16":
        return b.view(np.float16).astype(np.float32)
    return (b.astype(np.uint32) << 16).view(np.float32)


def ulps(a, b):
    """Float32 ulp distance (0 when both are the same NaN/inf kind)."""
    a, b = np.float32(a), np.float32(b)
    if np.isnan(a) and np.isnan(b):
        return 0
    if np.isnan(a) or np.isnan(b) or np.isinf(a) or np.isinf(b):
        return 0 if a == b else 1 << 31
    ia = int(np.array(a).view(np.int32))
    ib = int(np.array(b).view(np.int32))
    ia = ia if ia >= 0 else -(ia & 0x7FFFFFFF)
    ib = ib if ib >= 0 else -(ib & 0x7FFFFFFF)
    return abs(ia - ib)


def exact(key, ref, swift, tensor_dtype):
    """Compares a reference tensor with the mirror's entry bit for bit."""
    if swift is None:
        found.append(f"{key}: the reference returned a value, the mirror threw")
        return
    dtype, shape, data = swift
    ref_dtype = "I8" if ref.dtype == torch.int8 else NAMES[ref.dtype]
    if dtype != ref_dtype or tuple(shape) != tuple(ref.shape):
        found.append(f"{key}: mirror {dtype}{list(shape)}, reference {ref_dtype}{list(ref.shape)}")
        return
    mismatches = int(np.count_nonzero(bits(dtype, data) != bits(dtype, raw(ref))))
    counts["values"] += ref.numel()
    if mismatches:
        found.append(f"{key}: {mismatches} of {ref.numel()} values differ")
    else:
        counts["exact"] += 1


def attempt(body):
    try:
        return body(), None
    except Exception as error:  # the reference raises AssertionError, RuntimeError, IndexError...
        return None, error


def compare_case(name, w, out, errors, x):
    """Every mirror function on weight `w` against the reference."""
    def check_error(key, ref_error):
        if ref_error is not None:
            if key in errors:
                counts["errors_matched"] += 1
            else:
                found.append(f"{key}: the reference raised ({type(ref_error).__name__}: {ref_error}), the mirror did not")
            return True
        if key in errors:
            found.append(f"{key}: the mirror threw ({errors[key]}), the reference did not")
            return True
        return False

    for qd in QDIMS:
        qkey = f"q:{name}:{label(qd)}"
        result, error = attempt(lambda: quantize_symmetric(w, dim=qd))
        if check_error(qkey, error):
            continue
        q, s = result
        exact(qkey, q, out.get(qkey), w.dtype)
        exact(f"s:{name}:{label(qd)}", s, out.get(f"s:{name}:{label(qd)}"), w.dtype)
        for dd in DDIMS:
            for dname, dtype in DTYPES.items():
                key = f"dq:{name}:{label(qd)}:{label(dd)}:{dname}"
                restored, error = attempt(lambda: dequantize(q, s, dtype=dtype, dim=dd))
                if not check_error(key, error):
                    exact(key, restored, out.get(key), w.dtype)
            key = f"m:{name}:{label(qd)}:{label(dd)}"
            metrics, error = attempt(lambda: calculate_quantization_error(w, q, s, dim=dd))
            if check_error(key, error):
                continue
            if metrics is None or key not in out:
                found.append(f"{key}: missing from the mirror's output")
                continue
            swift = as_float32(out[key][0], out[key][2])
            for index, metric in enumerate(METRIC_KEYS):
                distance = ulps(metrics[metric], swift[index])
                if metric in ("mean_abs_error", "snr_db"):
                    counts["sum_total"] += 1
                    counts["sum_exact"] += distance == 0
                    if distance > SUM_ULPS:
                        found.append(f"{key} {metric}: reference {metrics[metric]!r}, mirror {swift[index]!r} ({distance} ulps)")
                elif distance != 0:
                    found.append(f"{key} {metric}: reference {metrics[metric]!r}, mirror {swift[index]!r}")
    result, error = attempt(lambda: quantize_weight_per_channel(w))
    if not check_error(f"pq:{name}", error):
        exact(f"pq:{name}", result[0], out.get(f"pq:{name}"), w.dtype)
        exact(f"ps:{name}", result[1], out.get(f"ps:{name}"), w.dtype)
    if w.dim() != 2:
        return
    layer = QuantizedLinear(w.shape[1], w.shape[0])
    _, error = attempt(lambda: layer.quantize_weights(w))
    if check_error(f"lq:{name}", error):
        return
    exact(f"lq:{name}", layer.weight_int8, out.get(f"lq:{name}"), w.dtype)
    exact(f"ls:{name}", layer.weight_scale, out.get(f"ls:{name}"), w.dtype)
    if x is None:
        return
    for dname in ("F32", "F16"):
        key = f"fwd:{name}:{dname}"
        xd = x.to(DTYPES[dname])
        y, error = attempt(lambda: layer(xd))
        if check_error(key, error):
            continue
        if key not in out:
            found.append(f"{key}: missing from the mirror's output")
            continue
        swift = as_float32(out[key][0], out[key][2])
        reference = y.float().numpy().reshape(-1)
        counts["fwd_total"] += reference.size
        counts["fwd_exact"] += int(np.count_nonzero(swift.view(np.uint32) == reference.view(np.uint32)))
        # Accumulation-order bound: k·eps32·Σ|x||W| (+ 1 ulp of the output dtype for F16).
        weight = dequantize(layer.weight_int8, layer.weight_scale, dtype=xd.dtype, dim=0).double()
        magnitude = (xd.double().abs() @ weight.abs().T).numpy().reshape(-1)
        bound = w.shape[1] * np.finfo(np.float32).eps * magnitude
        finite = np.isfinite(reference)
        if dname == "F16":
            with np.errstate(invalid="ignore"):
                bound = bound + np.spacing(np.abs(reference).astype(np.float16)).astype(np.float64)
        with np.errstate(invalid="ignore"):
            off = np.abs(swift.astype(np.float64) - reference) > bound
        # Overflowed outputs (inf) must match exactly.
        bad = int(np.count_nonzero(off[finite]) + np.count_nonzero(swift[~finite].view(np.uint32) != reference[~finite].view(np.uint32)))
        if bad:
            found.append(f"{key}: {bad} of {reference.size} outputs beyond the accumulation bound")


def run_batch(cases):
    """cases: name -> (weight tensor, activations or None). Runs the mirror once, compares all."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = os.path.join(folder, "in.safetensors"), os.path.join(folder, "out.safetensors")
        entries = {}
        for name, (w, x) in cases.items():
            entries[f"w:{name}"] = (NAMES[w.dtype], list(w.shape), raw(w))
            if x is not None:
                entries[f"x:{name}"] = ("F32", list(x.shape), raw(x))
        write_safetensors(source, entries)
        result = subprocess.run([MIRROR, source, target], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"check_rotalabs: rotalabs-mirror failed: {result.stderr.strip()}")
        out = read_safetensors(target)
        import json
        import struct
        with open(target, "rb") as f:
            length = struct.unpack("<Q", f.read(8))[0]
            errors = json.loads(f.read(length)).get("__metadata__", {})
        for name, (w, x) in cases.items():
            compare_case(name, w, out, errors, x)


def random_cases():
    cases = {}
    for dname, dtype in DTYPES.items():
        ties = torch.arange(-126.5, 127, 0.5)[:, None].repeat(1, 3).reshape(-1)[:506].reshape(22, 23)
        ties[0, 0] = 127  # max|w| 127 → scale exactly 1, so every .5 is a tie at w / scale
        cases[f"ties_{dname}"] = ties
        w = torch.randn(37, 53) * torch.rand(37, 1) ** 4
        w[3] = 0                      # a zero row: scale 0 → 1
        w[5] *= 1e-6                  # Float16: max|w| < 3.8e-6, the scale underflows to 0 → 1
        w[7] = torch.randn(53) * 1e-39  # Float32 subnormals (zero in Float16, kept in BFloat16)
        w[9] *= 1e4
        cases[f"random_{dname}"] = w
        cases[f"row_{dname}"] = torch.randn(1, 97)
        cases[f"column_{dname}"] = torch.randn(97, 1)
        cases[f"square_{dname}"] = torch.randn(48, 48) * torch.rand(1, 48)
        cases[f"zeros_{dname}"] = torch.zeros(4, 6)
        cases[f"rank3_{dname}"] = torch.randn(3, 4, 5)
        for key in [k for k in cases if k.endswith(dname)]:
            cases[key] = cases[key].to(dtype)
    return {name: (w, torch.randn(3, w.shape[1]) if w.dim() == 2 else None) for name, w in cases.items()}


def minilm_path():
    """MiniLM's model.safetensors: under $SWIFTQUANT_MODELS/all-MiniLM-L6-v2 when set, else
    interop_support's default (replace with the shared resolver once it lands there)."""
    models = os.environ.get("SWIFTQUANT_MODELS")
    return os.path.join(models, "all-MiniLM-L6-v2", "model.safetensors") if models else MINILM_SAFETENSORS


def minilm_cases():
    path = minilm_path()
    if not os.path.exists(path):
        raise SystemExit(f"check_rotalabs: MiniLM not found at {path}")
    from safetensors.torch import load_file
    for name, w in load_file(path).items():
        if w.dim() != 2 or not w.is_floating_point():
            continue  # position_ids is a 2-D int64 buffer, not a weight
        for dname, dtype in DTYPES.items():
            yield {f"{name}_{dname}": (w.to(dtype), torch.randn(2, w.shape[1]))}


def quickstart():
    """The seed README's Quantization example and the QuantizedLinear docstring example, with
    the reference's own bug fixed (its README calls calculate_quantization_error(x), which needs
    q and scale too and returns a dict). Inputs use exact rational arithmetic so both sides
    build the same bits. Tests/SwiftQuantKernelsTests/SeedExamples.swift prints the same lines."""
    x = (torch.arange(64, dtype=torch.float32).reshape(8, 8) - 31.5) / 7
    weight = ((torch.arange(96) * 37 % 101 - 50).float() / 13).reshape(12, 8).half()
    x_quant, scale = quantize_symmetric(x)
    x_recon = dequantize(x_quant, scale)
    w_quant, scales = quantize_weight_per_channel(weight)
    error = calculate_quantization_error(x, x_quant, scale)
    linear = QuantizedLinear(8, 12)
    linear.quantize_weights(weight)
    y = linear(x[:2].half())
    return [f"x_recon dtype: {str(x_recon.dtype).replace('torch.', '')}",
            f"scale: {scale.item():.9g}",
            "w_quant row 0: " + ", ".join(str(v) for v in w_quant[0].tolist()),
            "scales[0..2]: " + ", ".join(f"{v:.9g}" for v in scales[:3].tolist()),
            f"Quantization max_abs_error: {error['max_abs_error']:.6f}",
            f"Quantization snr_db: {error['snr_db']:.2f}",
            f"y dtype: {str(y.dtype).replace('torch.', '')}, shape: {list(y.shape)}",
            "y row 0: " + ", ".join(f"{v:.9g}" for v in y[0].float().tolist())]


def check_quickstart():
    """Runs the Swift port (SeedExamples) against the lines the reference printed."""
    lines = quickstart()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, SWIFTQUANT_QUICKSTART_EXPECTED=f.name)
    result = subprocess.run(["swift", "test", "--skip-build", "--filter", "SeedExamples"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    os.unlink(f.name)
    for line in lines:
        print("QUICKSTART", line)
    if result.returncode != 0:
        found.append("the Swift Quick Start (SeedExamples) does not print what the reference prints: "
                     + " | ".join(l for l in result.stdout.splitlines() if "✘" in l or "Expectation" in l)[:600])


def main():
    if "ROTALABS_MIRROR" not in os.environ:
        # Incremental: a no-op when the release binary is up to date.
        subprocess.run(["swift", "build", "-c", "release", "--product", "rotalabs-mirror"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    if not os.path.exists(MIRROR):
        raise SystemExit(f"check_rotalabs: {MIRROR} not found; run `swift build -c release --product rotalabs-mirror`")
    torch.set_num_threads(1)
    run_batch(random_cases())
    tensors = 0
    for batch in ([] if os.environ.get("CHECK_ROTALABS_RANDOM_ONLY") else minilm_cases()):
        run_batch(batch)
        tensors += 1
    check_quickstart()
    print(f"check_rotalabs: {tensors} MiniLM tensor/dtype pairs + random cases; "
          f"{counts['exact']} exact tensors ({counts['values']} values), "
          f"{counts['errors_matched']} raises matched; mean/snr exact {counts['sum_exact']}/{counts['sum_total']} "
          f"(rest within {SUM_ULPS} ulps); forward outputs bit-equal {counts['fwd_exact']}/{counts['fwd_total']}")
    return finish(found, f"check_rotalabs: {len(found)} mismatches")


if __name__ == "__main__":
    sys.exit(main())
