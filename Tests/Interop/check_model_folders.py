#!/usr/bin/env python3
"""Model folders in the runtimes that load them as they are (issue 13).

1. compressed-tensors, MiniLM: `swiftquant convert MODEL -o X.swq` then `export X.swq --layout
   compressed-tensors`; transformers + compressed-tensors load it (AutoModel) with no missing,
   unexpected or mismatched keys and no load warning naming weights; sentence embeddings (mean
   pooling, L2) against `minilm-embed --checkpoint X.swq`: cosine >= 0.99999; against fp32:
   min/median reported (and >= 0.99). The same for `convert --format compressed-tensors` per
   group of 128, and with two granularities (two config groups with explicit targets).
2. MLX, MiniLM: `convert --format mlx` (planned per channel: stored per group of 64, with a
   note); every quantized weight loaded by mlx (mx.load, nn.QuantizedLinear) dequantizes
   bit-identically to MLX's affine formula fl(fl(scales * (q+128)) + biases) over our stored
   values, and to within 2^-16 * scale of our own dequantized weights (`export --layout
   dequantized --dtype f32` of a per-group(64) checkpoint of the same model); biases ==
   -128 * scales exactly; the max difference in ulps is reported.
3. A tiny llama (LlamaForCausalLM, random weights, tokenizer trained by `tokenizers`), quantized
   once per group of 64 into a .swq, exported as an MLX and a compressed-tensors folder:
   mlx_lm.load loads ours (strict) and its logits match mlx-lm running our dequantized weights
   (the error the quantization predicts is exactly that of the dequantized weights); against
   the float model: max abs error and top-1 agreement reported, beside mlx_lm.convert
   (q_bits=8, group 64). transformers loads our compressed-tensors folder with no missing or
   unexpected keys and its logits match transformers on our dequantized weights.

Env: SWIFTQUANT = swiftquant binary; MINILM_EMBED = minilm-embed binary (default: beside
SWIFTQUANT). Exits 0 on success.
"""
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from interop_support import (  # noqa: E402
    MINILM_DIR, MODELS_HINT, SWIFTQUANT, exit_if_failed, fail, run)

CHECK = "check_model_folders"
SENTENCES = [
    "A man is playing a guitar.",
    "Hello, world!",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Crème brûlée à la française, naïve café, São Paulo, Zürich",
    "In 2023, 3.14159 × 10^5 people paid $1,234.56 on 12/31 at 23:59:59 (+/- 0.5%).",
    "The committee reviewed the quarterly financial statements and approved the revised hiring plan.",
    "A quick movement of the enemy will jeopardize six gunboats.",
    "Sentence embeddings map text to vectors.",
]
LOAD_WORDS = ("missing", "unexpected", "not used", "newly initialized", "mismatch", "not initialized")


def minilm_embed_binary():
    chosen = os.environ.get("MINILM_EMBED")
    if chosen:
        return chosen
    located = shutil.which(SWIFTQUANT) or SWIFTQUANT
    return os.path.join(os.path.dirname(os.path.abspath(located)), "minilm-embed")


class LoadReport:
    """Captures warnings and transformers' log records while loading, for load-report checks."""

    def __enter__(self):
        from transformers.utils import logging as hf_logging
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.logger = hf_logging.get_logger()
        self.logger.addHandler(self.handler)
        self.warnings = warnings.catch_warnings(record=True)
        self.records = self.warnings.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        self.logger.removeHandler(self.handler)
        self.text = self.buffer.getvalue() + "\n".join(str(r.message) for r in self.records)
        return False

    def complaints(self):
        return [line for line in self.text.splitlines() if any(word in line.lower() for word in LOAD_WORDS)]


def load_transformers(folder, model_class, label):
    """Loads `folder`, failing on any missing/unexpected/mismatched key or load complaint."""
    with LoadReport() as report:
        model, info = model_class.from_pretrained(folder, output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(key):
            fail(f"{label}: {key} {sorted(info[key])[:5]}")
    for line in report.complaints()[:5]:
        fail(f"{label}: load report: {line.strip()}")
    return model.eval()


def transformers_embeddings(folder, label):
    import torch
    from transformers import AutoModel, AutoTokenizer
    model = load_transformers(folder, AutoModel, label)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state.float()
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy().astype(np.float64)


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def floor(to_fp32, label):
    """Catches the silent failures of issue 13 (cosine ~0.02 when codes load as floats)."""
    if to_fp32.min() < 0.99:
        fail(f"compressed-tensors MiniLM {label}: cosine to fp32 min {to_fp32.min():.5f} < 0.99")


def check_compressed_tensors_minilm(work, fp32):
    checkpoint = os.path.join(work, "minilm.swq")
    run(["convert", MINILM_DIR, "-o", checkpoint, "--quiet"])
    folder = os.path.join(work, "minilm-ct")
    run(["export", checkpoint, "-o", folder, "--layout", "compressed-tensors", "--model-dir", MINILM_DIR, "--quiet"])
    ours = transformers_embeddings(folder, "compressed-tensors MiniLM (per channel)")
    embed = minilm_embed_binary()
    import subprocess
    result = subprocess.run([embed, "--model", MINILM_DIR, "--checkpoint", checkpoint, "--json", "--", *SENTENCES],
                            capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"minilm-embed --checkpoint failed: {result.stderr.strip()}")
        return
    swift = np.array(json.loads(result.stdout)["embeddings"])
    to_swift = cosines(ours, swift)
    if to_swift.min() < 0.99999:
        fail(f"compressed-tensors MiniLM vs minilm-embed --checkpoint: cosine min {to_swift.min():.6f} < 0.99999")
    to_fp32 = cosines(ours, fp32)
    floor(to_fp32, "per channel")
    print(f"{CHECK}: compressed-tensors MiniLM per channel: cosine to minilm-embed --checkpoint min "
          f"{to_swift.min():.7f}; to fp32 min/median {to_fp32.min():.5f}/{np.median(to_fp32):.5f}")

    grouped = os.path.join(work, "minilm-ct-g128")
    run(["convert", MINILM_DIR, "-o", grouped, "--format", "compressed-tensors", "--granularity", "per-group",
         "--group-size", "128", "--quiet"])
    config = json.load(open(os.path.join(grouped, "config.json")))["quantization_config"]
    weights = config["config_groups"]["group_0"]["weights"]
    if (weights["strategy"], weights.get("group_size")) != ("group", 128):
        fail(f"per-group(128) folder declares {weights}")
    to_fp32 = cosines(transformers_embeddings(grouped, "compressed-tensors MiniLM (group 128)"), fp32)
    print(f"{CHECK}: compressed-tensors MiniLM per group 128: cosine to fp32 min/median "
          f"{to_fp32.min():.5f}/{np.median(to_fp32):.5f}")
    floor(to_fp32, "per group 128")

    # Two granularities: one config group each, targeting its modules by name.
    rules = os.path.join(work, "mixed.yaml")
    with open(rules, "w") as f:
        f.write('rules:\n  - match: "*.intermediate.dense.weight"\n    granularity: per-group\n    group_size: 128\n')
    mixed = os.path.join(work, "minilm-ct-mixed")
    run(["convert", MINILM_DIR, "-o", mixed, "--format", "compressed-tensors", "--config", rules, "--quiet"])
    groups = json.load(open(os.path.join(mixed, "config.json")))["quantization_config"]["config_groups"]
    if sorted(g["weights"]["strategy"] for g in groups.values()) != ["channel", "group"]:
        fail(f"mixed-granularity folder declares {groups}")
    to_fp32 = cosines(transformers_embeddings(mixed, "compressed-tensors MiniLM (mixed)"), fp32)
    print(f"{CHECK}: compressed-tensors MiniLM, intermediate per group 128 and the rest per channel (two config "
          f"groups): cosine to fp32 min/median {to_fp32.min():.5f}/{np.median(to_fp32):.5f}")
    floor(to_fp32, "mixed granularities")


def check_mlx_minilm(work):
    import mlx.core as mx
    import mlx.nn as nn
    folder = os.path.join(work, "minilm-mlx")
    result = run(["convert", MINILM_DIR, "-o", folder, "--format", "mlx"])
    if "per-group(64)" not in result.stderr:
        fail(f"convert --format mlx of a per-channel plan printed no per-group(64) note: {result.stderr.strip()!r}")
    checkpoint = os.path.join(work, "minilm-g64.swq")
    run(["convert", MINILM_DIR, "-o", checkpoint, "--granularity", "per-group", "--group-size", "64", "--quiet"])
    dequantized = os.path.join(work, "minilm-g64-f32.safetensors")
    run(["export", checkpoint, "-o", dequantized, "--layout", "dequantized", "--dtype", "f32", "--quiet"])
    config = json.load(open(os.path.join(folder, "config.json")))
    if config.get("quantization") != {"group_size": 64, "bits": 8}:
        fail(f"MLX config quantization block: {config.get('quantization')}")
    stored = mx.load(os.path.join(folder, "model.safetensors"))
    ours = mx.load(dequantized)
    compared, worst_ulp, worst_step = 0, 0, 0.0
    for name in sorted(stored):
        if not name.endswith(".scales"):
            continue
        base = name[: -len(".scales")]
        packed, scales, biases = stored[base + ".weight"], stored[name], stored[base + ".biases"]
        rows, columns = packed.shape[0], packed.shape[1] * 4
        layer = nn.QuantizedLinear(columns, rows, bias=False, group_size=64, bits=8)
        layer.load_weights([("weight", packed), ("scales", scales), ("biases", biases)])
        mlx_weights = np.array(mx.dequantize(layer.weight, layer.scales, layer.biases, group_size=64, bits=8))
        s = np.repeat(np.array(scales), 64, axis=1)
        b = np.repeat(np.array(biases), 64, axis=1)
        if not np.array_equal(np.array(biases), np.float32(-128) * np.array(scales)):
            fail(f"{base}: biases != -128 * scales")
        u = np.array(packed).view(np.uint8).reshape(rows, columns).astype(np.float32)
        affine = (s * u).astype(np.float32) + b
        if not np.array_equal(affine.view(np.int32), mlx_weights.view(np.int32)):
            fail(f"{base}: mx.dequantize differs from fl(fl(scales*(q+128)) + biases)")
        reference = np.array(ours[base + ".weight"])
        step = float((np.abs(mlx_weights - reference) / s).max())
        ulps = np.abs(mlx_weights.view(np.int32).astype(np.int64) - reference.view(np.int32).astype(np.int64))
        if step > 2.0 ** -16:
            fail(f"{base}: mlx dequantized weight off ours by {step:.3g} x scale (> 2^-16)")
        worst_ulp, worst_step = max(worst_ulp, int(ulps.max())), max(worst_step, step)
        compared += 1
    if compared != 37:
        fail(f"MLX MiniLM: {compared} quantized weights, expected 37 (36 encoder Linears + pooler)")
    print(f"{CHECK}: MLX MiniLM: {compared} weights; mx.dequantize == fl(fl(s*(q+128)) + b) bit for bit; vs our "
          f"f32 dequantized: max {worst_step:.3g} x scale ({worst_ulp} ulp, the rounding of s*(q+128) in float32)")


def build_tiny_llama(folder, tie=False):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    torch.manual_seed(0)
    text = [" ".join(SENTENCES)] * 4 + [
        "the cat sat on the mat and the dog ate the bone", "model folders load in transformers and mlx"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(text, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=tie,
        bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # weights large enough that quantization error is visible in the logits
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0, 0.08)
    model.save_pretrained(folder)
    return fast


def float_folder(template, weights_file, folder):
    """A float model folder: `template`'s config and tokenizer with `weights_file` as its weights."""
    os.makedirs(folder)
    for name in os.listdir(template):
        if name.endswith(".json") and not name.endswith("index.json"):
            shutil.copy(os.path.join(template, name), folder)
    shutil.copy(weights_file, os.path.join(folder, "model.safetensors"))


def check_tiny_llama(work):
    import mlx.core as mx
    import torch
    from mlx_lm import convert as mlx_convert, load as mlx_load
    from transformers import AutoModelForCausalLM
    source = os.path.join(work, "tiny-llama")
    tokenizer = build_tiny_llama(source)
    ids = tokenizer("the cat sat on the mat. " + SENTENCES[0] + " " + SENTENCES[5])["input_ids"]
    checkpoint = os.path.join(work, "tiny-llama.swq")
    run(["convert", source, "-o", checkpoint, "--granularity", "per-group", "--group-size", "64", "--quiet"])
    ours_mlx, ours_ct = os.path.join(work, "tiny-llama-mlx"), os.path.join(work, "tiny-llama-ct")
    run(["export", checkpoint, "-o", ours_mlx, "--layout", "mlx", "--model-dir", source, "--quiet"])
    run(["export", checkpoint, "-o", ours_ct, "--layout", "compressed-tensors", "--model-dir", source, "--quiet"])
    dequantized_file = os.path.join(work, "tiny-llama-deq.safetensors")
    run(["export", checkpoint, "-o", dequantized_file, "--layout", "dequantized", "--dtype", "f32", "--quiet"])
    dequantized = os.path.join(work, "tiny-llama-deq")
    float_folder(source, dequantized_file, dequantized)

    def mlx_logits(folder):
        model, _ = mlx_load(folder)  # strict: a missing or unexpected weight raises
        return np.array(model(mx.array(ids)[None]).astype(mx.float32))[0]

    theirs = os.path.join(work, "tiny-llama-mlx-lm")
    mlx_convert(source, mlx_path=theirs, quantize=True, q_bits=8, q_group_size=64)
    fp = mlx_logits(source)
    ours, predicted, reference = mlx_logits(ours_mlx), mlx_logits(dequantized), mlx_logits(theirs)

    def against_float(logits):
        return float(np.abs(logits - fp).max()), float((logits.argmax(-1) == fp.argmax(-1)).mean())

    to_predicted = float(np.abs(ours - predicted).max())
    if to_predicted > 1e-3 * max(1.0, float(np.abs(fp).max())):
        fail(f"mlx-lm on our MLX folder vs mlx-lm on our dequantized weights: max abs {to_predicted:.3g}")
    (ours_error, ours_top1), (ref_error, ref_top1) = against_float(ours), against_float(reference)
    print(f"{CHECK}: tiny llama in mlx-lm, {len(ids)} tokens, logits max |fp| {np.abs(fp).max():.3g}: ours vs fp32 "
          f"max abs {ours_error:.4g}, top-1 {ours_top1:.3f} (vs our dequantized weights {to_predicted:.3g}); "
          f"mlx_lm.convert -q 8-bit g64 (embeddings and lm_head quantized too) vs fp32 max abs {ref_error:.4g}, top-1 {ref_top1:.3f}")

    def torch_logits(folder, label):
        model = load_transformers(folder, AutoModelForCausalLM, label)
        with torch.no_grad():
            return model(torch.tensor([ids])).logits[0].float().numpy()

    fp_torch = torch_logits(source, "tiny llama fp32")
    ct = torch_logits(ours_ct, "compressed-tensors tiny llama")
    ct_predicted = torch_logits(dequantized, "tiny llama dequantized")
    to_predicted = float(np.abs(ct - ct_predicted).max())
    if to_predicted > 1e-3 * max(1.0, float(np.abs(fp_torch).max())):
        fail(f"transformers on our compressed-tensors folder vs on our dequantized weights: max abs {to_predicted:.3g}")
    # Tied embeddings: lm_head is a Linear with no weight of its own in the files; it must be
    # ignored, or compressed-tensors expects it quantized.
    tied = os.path.join(work, "tiny-llama-tied")
    build_tiny_llama(tied, tie=True)
    tied_ct = os.path.join(work, "tiny-llama-tied-ct")
    run(["convert", tied, "-o", tied_ct, "--format", "compressed-tensors", "--quiet"])
    tied_error = float(np.abs(torch_logits(tied_ct, "compressed-tensors tied tiny llama")
                              - torch_logits(tied, "tied tiny llama fp32")).max())
    if not tied_error < 1.0:
        fail(f"tied tiny llama from our compressed-tensors folder: logits off fp32 by {tied_error:.3g}")
    print(f"{CHECK}: tiny llama in transformers (compressed-tensors): vs fp32 max abs {np.abs(ct - fp_torch).max():.4g}, "
          f"top-1 {(ct.argmax(-1) == fp_torch.argmax(-1)).mean():.3f} (vs our dequantized weights {to_predicted:.3g}); "
          f"with tied embeddings vs fp32 max abs {tied_error:.4g}")


def main():
    if not os.path.exists(os.path.join(MINILM_DIR, "model.safetensors")):
        sys.exit(f"{CHECK}: all-MiniLM-L6-v2 not found at {MINILM_DIR}; {MODELS_HINT}")
    with tempfile.TemporaryDirectory() as work:
        fp32 = transformers_embeddings(MINILM_DIR, "MiniLM fp32")
        check_compressed_tensors_minilm(work, fp32)
        check_mlx_minilm(work)
        check_tiny_llama(work)
    exit_if_failed(CHECK)
    print(f"{CHECK}: ok")


if __name__ == "__main__":
    main()
