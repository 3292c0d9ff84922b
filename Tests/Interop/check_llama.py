#!/usr/bin/env python3
"""The llama-family decoder against transformers (issue 15), with no downloads.

Builds tiny random Llama and Qwen2 models with transformers (`save_pretrained`, float32; GQA;
tied and untied heads; Qwen2's q/k/v biases) and checks `swiftquant generate`:
  1. fp32 logits (the prompt pass, then every batch-1 decode step through the KV cache) against
     the same model in float64: max |Δ| / max |reference| ≤ 1e-4;
  2. the INT8 checkpoint (`swiftquant convert`, per channel) against fp32: reports the max
     error relative to the logits' range and the top-1 agreement (printed, loosely bounded);
  3. greedy generation of 32 tokens identical to transformers' greedy `generate` in float32.
SWIFTQUANT names the CLI binary.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import SWIFTQUANT  # noqa: E402

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM  # noqa: E402

failures = []
NEW_TOKENS = 32
PROMPT = [1, 17, 42, 99, 3, 250, 7, 64, 128, 5, 200, 31]


def build(kind, folder, tied, seed):
    torch.manual_seed(seed)
    common = dict(vocab_size=320, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
                  num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, tie_word_embeddings=tied, initializer_range=0.08,
                  bos_token_id=1, eos_token_id=2)
    # Both rope_scaling types the decoder supports, on positions past the original context.
    if kind == "llama":
        rope = {"rope_theta": 10000.0, "rope_type": "default"} if not tied else {
            "rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
        config = LlamaConfig(rope_parameters=rope, **common)
        model = LlamaForCausalLM(config)
    else:
        rope = {"rope_theta": 1000000.0, "rope_type": "default"} if tied else {
            "rope_theta": 1000000.0, "rope_type": "linear", "factor": 2.0}
        config = Qwen2Config(rope_parameters=rope, use_sliding_window=False, **common)
        model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            elif name.endswith(".bias"):
                parameter.copy_(0.1 * torch.randn_like(parameter))
    model = model.float().eval()
    model.save_pretrained(folder, safe_serialization=True)
    return model


def run_generate(model_path, logits_path):
    result = subprocess.run(
        [SWIFTQUANT, "generate", model_path, "--prompt-ids", ",".join(map(str, PROMPT)),
         "--max-tokens", str(NEW_TOKENS), "--ignore-eos", "--json", "--dump-logits", logits_path],
        capture_output=True, text=True)
    if result.returncode != 0:
        failures.append(f"generate {model_path}: {result.stderr.strip()}")
        return None, None
    answer = json.loads(result.stdout)
    logits = np.fromfile(logits_path, dtype="<f4")
    return answer, logits


def check(kind, tied, seed, work):
    label = f"{kind} ({'tied' if tied else 'untied'} head)"
    folder = os.path.join(work, f"{kind}-{tied}")
    model = build(kind, folder, tied, seed)
    vocab = model.config.vocab_size
    answer, logits = run_generate(folder, os.path.join(work, f"{kind}-{tied}.f32"))
    if answer is None:
        return
    if answer["prompt_tokens"] != PROMPT:
        failures.append(f"{label}: prompt_tokens {answer['prompt_tokens']} != {PROMPT}")
    tokens = answer["tokens"]
    logits = logits.reshape(-1, vocab)
    sequence = PROMPT + tokens[:-1]
    if logits.shape[0] != len(sequence):
        failures.append(f"{label}: {logits.shape[0]} logits rows for {len(sequence)} positions")
        return
    # (1) fp32 logits against the float64 model, prompt rows and decode steps alike.
    with torch.no_grad():
        reference = model.double()(torch.tensor([sequence])).logits[0].numpy()
    model.float()
    error = np.abs(logits - reference).max() / np.abs(reference).max()
    prompt_error = np.abs(logits[:len(PROMPT)] - reference[:len(PROMPT)]).max() / np.abs(reference).max()
    print(f"{label}: fp32 vs float64 reference: max relative error {error:.2e} (prompt pass {prompt_error:.2e}, {len(tokens) - 1} decode steps)")
    if not error <= 1e-4:
        failures.append(f"{label}: fp32 logits differ from the float64 reference by {error:.2e} relative (limit 1e-4)")
    # (3) greedy generation against transformers' greedy generate in float32.
    with torch.no_grad():
        expected = model.generate(torch.tensor([PROMPT]), max_new_tokens=NEW_TOKENS, do_sample=False,
                                  eos_token_id=None, pad_token_id=0, min_new_tokens=NEW_TOKENS)[0, len(PROMPT):].tolist()
    same = sum(1 for a, b in zip(tokens, expected) if a == b)
    print(f"{label}: greedy {NEW_TOKENS} tokens: {'identical' if tokens == expected else f'{same} of {NEW_TOKENS} equal'} to transformers")
    if tokens != expected:
        failures.append(f"{label}: greedy tokens {tokens} differ from transformers' {expected}")
    # (2) INT8 per channel (the default rules keep embeddings and lm_head float).
    swq = os.path.join(work, f"{kind}-{tied}.swq")
    converted = subprocess.run([SWIFTQUANT, "convert", folder, "-o", swq, "--quiet", "--force"], capture_output=True, text=True)
    if converted.returncode != 0:
        failures.append(f"{label}: convert: {converted.stderr.strip()}")
        return
    int8_answer, int8_logits = run_generate(swq, os.path.join(work, f"{kind}-{tied}-int8.f32"))
    if int8_answer is None:
        return
    int8_logits = int8_logits.reshape(-1, vocab)
    # Same positions only where both runs generated the same tokens (the sequences may diverge).
    agree = 0
    for a, b in zip(int8_answer["tokens"], tokens):
        if a != b:
            break
        agree += 1
    rows = len(PROMPT) + max(agree - 1, 0)
    int8_error = np.abs(int8_logits[:rows] - reference[:rows]).max() / np.abs(reference).max()
    top1 = float(np.mean(int8_logits[:rows].argmax(-1) == reference[:rows].argmax(-1)))
    print(f"{label}: INT8 per channel vs float64: max relative error {int8_error:.2e}, top-1 agreement {top1:.3f} over {rows} positions, greedy prefix {agree}/{NEW_TOKENS}")
    if not int8_error <= 0.05:
        failures.append(f"{label}: INT8 logits differ by {int8_error:.2e} relative (limit 0.05)")


def check_text_prompt(work):
    """A text prompt goes through the folder's tokenizer.json as the tokenizers package reads it,
    and `text` is the generated ids decoded by the same tokenizer (the .swq carries the file)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    folder = os.path.join(work, "llama-text")
    model = build("llama", folder, False, 5)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"), encoding="utf-8").read()]
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=model.config.vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer.save(os.path.join(folder, "tokenizer.json"))
    prompt = "Quantize the weights, then run: naïve 数字 42"
    expected_prompt = tokenizer.encode(prompt).ids
    swq = os.path.join(work, "llama-text.swq")
    converted = subprocess.run([SWIFTQUANT, "convert", folder, "-o", swq, "--quiet", "--force"], capture_output=True, text=True)
    if converted.returncode != 0:
        failures.append(f"text prompt: convert: {converted.stderr.strip()}")
        return
    for path in (folder, swq):
        result = subprocess.run([SWIFTQUANT, "generate", path, "--prompt", prompt, "--max-tokens", "12",
                                 "--ignore-eos", "--json"], capture_output=True, text=True)
        if result.returncode != 0:
            failures.append(f"text prompt {path}: {result.stderr.strip()}")
            continue
        answer = json.loads(result.stdout)
        if answer["prompt_tokens"] != expected_prompt:
            failures.append(f"text prompt {path}: prompt ids {answer['prompt_tokens']} != tokenizers' {expected_prompt}")
        decoded = tokenizer.decode(answer["tokens"])
        if answer["text"] != decoded:
            failures.append(f"text prompt {path}: text {answer['text']!r} != tokenizers' decode {decoded!r}")
        print(f"text prompt via {os.path.basename(path)}: {len(expected_prompt)} prompt ids equal to tokenizers', "
              f"{len(answer['tokens'])} generated ids decode to the same text")


with tempfile.TemporaryDirectory() as work:
    for kind, tied, seed in [("llama", False, 1), ("llama", True, 2), ("qwen2", True, 3), ("qwen2", False, 4)]:
        check(kind, tied, seed, work)
    check_text_prompt(work)

for failure in failures:
    print("FAIL:", failure)
sys.exit(1 if failures else 0)
