#!/usr/bin/env python3
"""SwiftQuant against PyTorch (fp32 and dynamic int8, fbgemm) and ONNX Runtime (dynamically
quantized MiniLM, when onnxruntime is installed) on the same inputs, in one run, same threads.

Cases: an 8192×8192 linear at batch 1 and 32, all-MiniLM-L6-v2 at ~10 and 122 tokens (the
sentences of `swiftquant bench`'s minilm cases). The Python timings and `swiftquant bench
--json` runs alternate ROUNDS times; medians are printed with ratios (SwiftQuant ÷ peer, < 1
means SwiftQuant is faster). The machine may be shared: read the ratios, not the absolute times.

Env: SWIFTQUANT = release swiftquant binary (default .build/release/swiftquant), THREADS (2),
ROUNDS (3), SWIFTQUANT_MINILM = model folder (default: the bench's own search).
Usage: python3 Tests/Benchmarks/bench_vs_torch.py
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWIFTQUANT = os.environ.get("SWIFTQUANT", os.path.join(ROOT, ".build/release/swiftquant"))
THREADS = int(os.environ.get("THREADS", "2"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
VOCABULARY = ["the", "model", "runs", "quickly", "on", "two", "cores", "while", "weights", "stay", "small"]


def sentence(words):
    return " ".join(VOCABULARY[i % len(VOCABULARY)] for i in range(words))


def model_dir():
    if os.environ.get("SWIFTQUANT_MINILM"):
        return os.environ["SWIFTQUANT_MINILM"]
    name = "all-MiniLM-L6-v2"
    if os.environ.get("SWIFTQUANT_MODELS"):
        return os.path.join(os.environ["SWIFTQUANT_MODELS"], name)
    shared = os.path.join(os.path.dirname(ROOT), "shared/models", name)
    return shared if os.path.exists(os.path.join(shared, "model.safetensors")) else os.path.join(ROOT, ".cache/models", name)


def median_time(body, repetitions=15):
    body()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_minilm():
    """BertModel from the safetensors weights (transformers is not needed: a small encoder)."""
    from safetensors.numpy import load_file
    folder = model_dir()
    config = json.load(open(os.path.join(folder, "config.json")))
    weights = {k: torch.from_numpy(v.copy()) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    h, heads = config["hidden_size"], config["num_attention_heads"]

    class Layer(torch.nn.Module):
        def __init__(self, p):
            super().__init__()
            def linear(name):
                layer = torch.nn.Linear(weights[name + ".weight"].shape[1], weights[name + ".weight"].shape[0])
                layer.weight.data, layer.bias.data = weights[name + ".weight"], weights[name + ".bias"]
                return layer
            def norm(name):
                layer = torch.nn.LayerNorm(h, eps=config["layer_norm_eps"])
                layer.weight.data, layer.bias.data = weights[name + ".weight"], weights[name + ".bias"]
                return layer
            self.q, self.k, self.v = linear(p + "attention.self.query"), linear(p + "attention.self.key"), linear(p + "attention.self.value")
            self.o, self.n1 = linear(p + "attention.output.dense"), norm(p + "attention.output.LayerNorm")
            self.i, self.out, self.n2 = linear(p + "intermediate.dense"), linear(p + "output.dense"), norm(p + "output.LayerNorm")

        def forward(self, x):
            n = x.shape[0]
            split = lambda t: t.view(n, heads, h // heads).transpose(0, 1)
            a = torch.nn.functional.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)))
            x = self.n1(self.o(a.transpose(0, 1).reshape(n, h)) + x)
            return self.n2(self.out(torch.nn.functional.gelu(self.i(x))) + x)

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.word = weights["embeddings.word_embeddings.weight"]
            self.position = weights["embeddings.position_embeddings.weight"]
            self.token_type = weights["embeddings.token_type_embeddings.weight"][0]
            self.norm = torch.nn.LayerNorm(h, eps=config["layer_norm_eps"])
            self.norm.weight.data, self.norm.bias.data = weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"]
            self.layers = torch.nn.ModuleList(Layer(f"encoder.layer.{i}.") for i in range(config["num_hidden_layers"]))

        def forward(self, ids):
            x = self.norm(self.word[ids] + self.position[: ids.shape[0]] + self.token_type)
            for layer in self.layers:
                x = layer(x)
            pooled = x.mean(dim=0)
            return pooled / pooled.norm().clamp(min=1e-12)

    return Encoder().eval(), folder


def token_ids(folder, text):
    out = subprocess.run([SWIFTQUANT.replace("swiftquant", "minilm-embed"), "--model", folder, "--tokens", text],
                         check=True, capture_output=True, text=True).stdout
    return torch.tensor(json.loads(out)["tokens"][0], dtype=torch.long)


def python_round(encoder, folder, ort_sessions):
    results = {}
    torch.set_num_threads(THREADS)
    with torch.inference_mode():
        for batch in (1, 32):
            linear = torch.nn.Linear(8192, 8192, bias=False)
            x = torch.randn(batch, 8192)
            results[f"linear-b{batch}/torch-fp32"] = median_time(lambda: linear(x), 9)
            dynamic = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(linear), {torch.nn.Linear}, dtype=torch.qint8)
            results[f"linear-b{batch}/torch-int8"] = median_time(lambda: dynamic(x), 9)
        dynamic_encoder = torch.ao.quantization.quantize_dynamic(encoder, {torch.nn.Linear}, dtype=torch.qint8)
        for words, label in ((8, "minilm-short"), (120, "minilm-122")):
            ids = token_ids(folder, sentence(words))
            results[f"{label}/torch-fp32"] = median_time(lambda: encoder(ids))
            results[f"{label}/torch-int8"] = median_time(lambda: dynamic_encoder(ids))
            if ort_sessions:
                session = ort_sessions
                feed = {"ids": ids.numpy()}
                results[f"{label}/ort-int8"] = median_time(lambda: session.run(None, feed))
    return results


def onnx_session(encoder, folder, tmp):
    try:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        print("bench_vs_torch: onnxruntime is not installed; skipping ONNX Runtime")
        return None
    path, quantized = os.path.join(tmp, "minilm.onnx"), os.path.join(tmp, "minilm-int8.onnx")
    ids = token_ids(folder, sentence(8))
    torch.onnx.export(encoder, (ids,), path, input_names=["ids"], output_names=["embedding"],
                      dynamic_axes={"ids": {0: "tokens"}}, dynamo=False)
    quantize_dynamic(path, quantized, weight_type=QuantType.QInt8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(quantized, options, providers=["CPUExecutionProvider"])


def swift_round():
    cases = ["linear-int8-8192x8192-b1", "linear-int8-8192x8192-b32", "linear-w8a8-8192x8192-b1",
             "linear-w8a8-8192x8192-b32", "minilm-int8-short", "minilm-w8a8-short", "minilm-int8-128-tokens",
             "minilm-w8a8-128-tokens", "minilm-fp32-128-tokens"]
    listed = subprocess.run([SWIFTQUANT, "bench", "--list"], check=True, capture_output=True, text=True).stdout
    cases = [c for c in cases if c in listed]
    out = subprocess.run([SWIFTQUANT, "bench", *cases, "--threads", str(THREADS), "--json"], check=True,
                         capture_output=True, text=True).stdout
    results = {}
    for entry in json.loads(out):
        results[f"swift/{entry['name']}"] = entry["median_seconds"]
        if "fp32_median_seconds" in entry:
            results[f"swift/{entry['name']}/fp32"] = entry["fp32_median_seconds"]
    return results


def main():
    encoder, folder = build_minilm()
    with tempfile.TemporaryDirectory() as tmp:
        session = onnx_session(encoder, folder, tmp)
        rounds = []
        for r in range(ROUNDS):
            rounds.append({**python_round(encoder, folder, session), **swift_round()})
            print(f"bench_vs_torch: round {r + 1} of {ROUNDS} done", file=sys.stderr)
    keys = sorted(set().union(*rounds))
    med = {k: statistics.median(r[k] for r in rounds if k in r) for k in keys}
    print(f"medians over {ROUNDS} alternating rounds, {THREADS} threads (ms):")
    for k in keys:
        print(f"  {k:45s} {med[k] * 1e3:9.2f}")
    pairs = [
        ("batch 1: swift int8 / torch int8", "swift/linear-int8-8192x8192-b1", "linear-b1/torch-int8"),
        ("batch 1: swift w8a8 / torch int8", "swift/linear-w8a8-8192x8192-b1", "linear-b1/torch-int8"),
        ("batch 32: swift int8 / torch int8", "swift/linear-int8-8192x8192-b32", "linear-b32/torch-int8"),
        ("batch 32: swift w8a8 / torch int8", "swift/linear-w8a8-8192x8192-b32", "linear-b32/torch-int8"),
        ("MiniLM 122: swift fp32 / torch fp32", "swift/minilm-fp32-128-tokens", "minilm-122/torch-fp32"),
        ("MiniLM 122: swift w8a8 / torch int8", "swift/minilm-w8a8-128-tokens", "minilm-122/torch-int8"),
        ("MiniLM 122: swift w8a8 / ORT int8", "swift/minilm-w8a8-128-tokens", "minilm-122/ort-int8"),
        ("MiniLM 122: swift w8a8 / swift fp32", "swift/minilm-w8a8-128-tokens", "swift/minilm-w8a8-128-tokens/fp32"),
        ("MiniLM short: swift fp32 / torch fp32", "swift/minilm-int8-short/fp32", "minilm-short/torch-fp32"),
        ("MiniLM short: swift w8a8 / torch int8", "swift/minilm-w8a8-short", "minilm-short/torch-int8"),
        ("MiniLM short: swift w8a8 / ORT int8", "swift/minilm-w8a8-short", "minilm-short/ort-int8"),
    ]
    print("ratios (< 1: SwiftQuant faster):")
    for label, a, b in pairs:
        if a in med and b in med:
            print(f"  {label:40s} {med[a] / med[b]:6.2f}")


if __name__ == "__main__":
    main()
