#!/usr/bin/env python3
"""Llama decode and prompt speed: `swiftquant generate` (INT8 per channel) against llama.cpp
(Q8_0, llama-cpp-python 0.3.36), the same random ~100M-parameter model, same thread count (issue 15).

The model (hidden 768, 12 layers, 12 query / 4 key-value heads, MLP 2048, vocabulary 32000,
separate output head: the shape of `swiftquant bench llama-100m-*`) is drawn once with numpy and
written twice from the same arrays:
  - a Hugging Face folder (config.json + model.safetensors, F32), converted by `swiftquant convert`
    to a .swq with every linear layer INT8 per channel, lm_head included (llama.cpp's Q8_0 file
    quantizes its output head too); the embeddings stay F32 (a row lookup either way);
  - a GGUF F32 file (gguf-py; q/k rows permuted as convert_hf_to_gguf.py does), quantized to
    Q8_0 by `llama_model_quantize` (llama-quantize's function).
Ours runs twice per round: weight-only INT8 (the default) and with `--int8-activations` (W8A8,
opt-in: each layer's input rows quantized to int8, as llama.cpp's Q8_0 products do with theirs).
Then RUNS rounds alternating between them; each round is one 128-token prompt pass (timed)
followed by DECODE greedy batch-1 steps (timed together). Ours is timed by `swiftquant generate
--json` itself (wall clock inside the process, model loading excluded; the weights are memory-
mapped, so the first pass of each process also faults the pages in); theirs around
`llama_decode` calls plus an argmax, in this process, on one context whose KV cache is cleared
between rounds, after one untimed warm-up round. Prints medians and the ratios
(targets: decode ours/theirs tokens/s ≥ 1, prompt time ours/theirs ≤ 2). Both F32 files are also
run once greedily to show the two implementations compute the same model (same tokens).

Run with SWIFTQUANT=<release build of swiftquant>; RUNS (default 5), DECODE (default 64) and
BENCH_DIR (a folder kept between runs, whose model files are reused; default: a temporary
folder) are optional, and THREADS (default 1,2): the thread counts to compare at, both sides
alike. On a machine busy with other work, llama.cpp's threads, which wait for each other by
spinning, lose much more than ours with 2 threads: read the 1-thread figures there.
"""
import contextlib
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "Interop"))
import numpy as np  # noqa: E402
import gguf  # noqa: E402
from llama_gguf_fixture import vocabulary  # noqa: E402

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")
RUNS = int(os.environ.get("RUNS", "5"))
DECODE = int(os.environ.get("DECODE", "64"))
THREADS = [int(t) for t in os.environ.get("THREADS", "1,2").split(",")]
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, VOCAB = 768, 12, 12, 4, 2048, 32000
PROMPT = [1] + [(i * 131) % (VOCAB - 300) + 300 for i in range(127)]


def random_model(seed=1):
    """HF-named float32 arrays; scaled like LlamaModel.random so activations stay in range."""
    rng = np.random.default_rng(seed)
    head_dim = HIDDEN // HEADS

    def dense(out_features, in_features):
        scale = 1.7 / np.sqrt(in_features)
        return (rng.uniform(-1, 1, (out_features, in_features)) * scale).astype(np.float32)

    def norm():
        return (1 + rng.uniform(-0.1, 0.1, HIDDEN)).astype(np.float32)

    weights = {"model.embed_tokens.weight": rng.uniform(-1, 1, (VOCAB, HIDDEN)).astype(np.float32)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        weights[p + "input_layernorm.weight"] = norm()
        weights[p + "self_attn.q_proj.weight"] = dense(HEADS * head_dim, HIDDEN)
        weights[p + "self_attn.k_proj.weight"] = dense(KV_HEADS * head_dim, HIDDEN)
        weights[p + "self_attn.v_proj.weight"] = dense(KV_HEADS * head_dim, HIDDEN)
        weights[p + "self_attn.o_proj.weight"] = dense(HIDDEN, HEADS * head_dim)
        weights[p + "post_attention_layernorm.weight"] = norm()
        weights[p + "mlp.gate_proj.weight"] = dense(FFN, HIDDEN)
        weights[p + "mlp.up_proj.weight"] = dense(FFN, HIDDEN)
        weights[p + "mlp.down_proj.weight"] = dense(HIDDEN, FFN)
    weights["model.norm.weight"] = norm()
    weights["lm_head.weight"] = dense(VOCAB, HIDDEN)
    return weights


def write_hf_folder(folder, weights):
    from safetensors.numpy import save_file
    os.makedirs(folder, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB,
        "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "max_position_embeddings": 2048, "tie_word_embeddings": False,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
    }
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    save_file(weights, os.path.join(folder, "model.safetensors"))


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: HF rotary halves → llama.cpp's interleaved pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path, weights):
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("bench-llama-100m")
    writer.add_context_length(2048)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(VOCAB)
    writer.add_file_type(0)
    tokens, scores, types = vocabulary(VOCAB)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    writer.add_tensor("token_embd.weight", weights["model.embed_tokens.weight"])
    for i in range(LAYERS):
        for hf, ours in names.items():
            w = weights[f"model.layers.{i}.{hf}.weight"]
            if hf == "self_attn.q_proj":
                w = permute(w, HEADS)
            elif hf == "self_attn.k_proj":
                w = permute(w, KV_HEADS)
            writer.add_tensor(f"blk.{i}.{ours}.weight", np.ascontiguousarray(w))
    writer.add_tensor("output_norm.weight", weights["model.norm.weight"])
    writer.add_tensor("output.weight", weights["lm_head.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def run_ours(model, decode, threads, flags=()):
    result = subprocess.run(
        [SWIFTQUANT, "generate", model, "--prompt-ids", ",".join(map(str, PROMPT)), "--max-tokens", str(decode + 1),
         "--ignore-eos", "--json", "--threads", str(threads), *flags], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"swiftquant generate {model} failed: {result.stderr.strip()}")
    answer = json.loads(result.stdout)
    # generate's decode rate counts the steps after the prompt pass (which yields the first token).
    return 128 / answer["prompt_tokens_per_second"], decode / answer["decode_tokens_per_second"], answer["tokens"]


class LlamaCpp:
    """One llama.cpp context with `threads` threads, driven through the low-level API."""

    def __init__(self, path, threads):
        import llama_cpp
        self.lib = llama_cpp
        params = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(path.encode(), params)
        if not self.model:
            sys.exit(f"llama.cpp could not load {path}")
        context = llama_cpp.llama_context_default_params()
        context.n_ctx = 512
        context.n_batch = 128
        context.n_ubatch = 128
        context.n_threads = threads
        context.n_threads_batch = threads
        self.context = llama_cpp.llama_init_from_model(self.model, context)
        self.batch = llama_cpp.llama_batch_init(128, 0, 1)

    def decode(self, tokens, start):
        b = self.batch
        b.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            b.token[i] = token
            b.pos[i] = start + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = i == len(tokens) - 1
        if self.lib.llama_decode(self.context, b) != 0:
            sys.exit("llama_decode failed")
        logits = self.lib.llama_get_logits_ith(self.context, -1)
        return int(np.argmax(np.ctypeslib.as_array(logits, shape=(VOCAB,))))

    def run(self, decode):
        memory = self.lib.llama_get_memory(self.context)
        self.lib.llama_memory_clear(memory, True)
        start = time.perf_counter()
        token = self.decode(PROMPT, 0)
        prompt_seconds = time.perf_counter() - start
        tokens = [token]
        start = time.perf_counter()
        for step in range(decode):
            token = self.decode([token], len(PROMPT) + step)
            tokens.append(token)
        return prompt_seconds, time.perf_counter() - start, tokens


def main():
    import llama_cpp
    silent = llama_cpp.llama_log_callback(lambda level, text, data: None)
    llama_cpp.llama_log_set(silent, ctypes.c_void_p())
    llama_cpp.llama_backend_init()
    kept = os.environ.get("BENCH_DIR")
    with (contextlib.nullcontext(kept) if kept else tempfile.TemporaryDirectory()) as folder:
        hf, f32_gguf, q8_gguf, swq = (os.path.join(folder, n) for n in ("hf", "f32.gguf", "q8_0.gguf", "int8.swq"))
        if not all(os.path.exists(p) for p in (hf, f32_gguf, q8_gguf, swq)):
            os.makedirs(folder, exist_ok=True)
            weights = random_model()
            write_hf_folder(hf, weights)
            write_gguf(f32_gguf, weights)
            del weights
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
            if llama_cpp.llama_model_quantize(f32_gguf.encode(), q8_gguf.encode(), ctypes.byref(params)) != 0:
                sys.exit("llama_model_quantize failed")
            rules = os.path.join(folder, "rules.yaml")
            with open(rules, "w") as f:
                f.write('rules:\n  - match: "lm_head.weight"\n')
            subprocess.run([SWIFTQUANT, "convert", hf, "--output", swq, "--config", rules, "--force"],
                           check=True, capture_output=True)
        print(f"model: {os.path.getsize(f32_gguf) / 1e6:.0f} MB F32; Q8_0 GGUF {os.path.getsize(q8_gguf) / 1e6:.0f} MB;"
              f" INT8 .swq {os.path.getsize(swq) / 1e6:.0f} MB; prompt 128 tokens; decode {DECODE} steps;"
              f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        # The same model in both: greedy tokens from the F32 files.
        float_cpp = LlamaCpp(f32_gguf, 1)
        _, _, theirs_tokens = float_cpp.run(16)
        _, _, ours_tokens = run_ours(hf, 16, 1)
        same = sum(a == b for a, b in zip(ours_tokens, theirs_tokens))
        print(f"F32 greedy tokens equal: {same}/{len(theirs_tokens)}")
        del float_cpp

        for threads in THREADS:
            theirs = LlamaCpp(q8_gguf, threads)
            theirs.run(8)  # warm-up: pages in, buffers allocated
            results = {"swiftquant int8": ([], []), "swiftquant w8a8": ([], []), "llama.cpp q8_0": ([], [])}
            for _ in range(RUNS):
                for name, run in (("swiftquant int8", lambda: run_ours(swq, DECODE, threads)),
                                  ("swiftquant w8a8", lambda: run_ours(swq, DECODE, threads, ["--int8-activations"])),
                                  ("llama.cpp q8_0", lambda: theirs.run(DECODE))):
                    prompt, decode, _ = run()
                    results[name][0].append(prompt)
                    results[name][1].append(decode)
            del theirs
            medians = {}
            print(f"{threads} thread{'s' if threads > 1 else ''} (load average {os.getloadavg()[0]:.1f}):")
            for name, (prompts, decodes) in results.items():
                p, d = statistics.median(prompts), statistics.median(decodes)
                medians[name] = (p, d)
                print(f"  {name:16s} prompt-128 {128 / p:7.1f} tok/s ({p * 1000:6.1f} ms)   decode {DECODE / d:6.1f} tok/s"
                      f"   runs prompt " + " ".join(f"{128 / v:.0f}" for v in prompts)
                      + " | decode " + " ".join(f"{DECODE / v:.1f}" for v in decodes))
            tp, td = medians["llama.cpp q8_0"]
            for name in ("swiftquant int8", "swiftquant w8a8"):
                op, od = medians[name]
                print(f"  {name}: decode tokens/s ours / llama.cpp {td / od:.2f} (target ≥ 1.0),"
                      f" prompt-128 time ours / llama.cpp {op / tp:.2f} (target ≤ 2.0)")

if __name__ == "__main__":
    main()
