#!/usr/bin/env python3
"""Hugging Face folder → Q8_0 GGUF: `swiftquant convert DIR -o m.gguf --preset llama-quantize`
against llama.cpp's `convert_hf_to_gguf.py DIR --outtype q8_0` (llama-cpp-python 0.3.36's sdist),
same folder. The issue's target: ours ≤ 0.5× theirs.

The folder is a LlamaForCausalLM with random F16 weights (~310 MB: hidden 1024, 7 layers, 16
heads, MLP 2816, vocab 32000 — the dimensions of bench_gguf_vs_llama_quantize.py), written
with numpy, plus config.json and a byte-level BPE tokenizer trained here (vocab_size pads it).
convert_hf_to_gguf.py runs through the same wrapper as Tests/Interop/check_hf_gguf.py (its
`pre` hash does not know our tokenizer). Both run as whole processes, as a user runs them
(Python's start and torch import included for theirs); one warm-up each, then RUNS runs
alternating; prints the medians, the ratio, CPU times, and whether the tensors are identical.

Run with SWIFTQUANT=<path to a release build of swiftquant>; RUNS (default 3), BENCH_DIR and
LLAMA_CPP_SOURCE are optional.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "Interop"))
from check_hf_gguf import WRAPPER, byte_level_tokenizer, gguf_contents, llama_cpp_dir  # noqa: E402

SWIFTQUANT = os.environ.get("SWIFTQUANT", "swiftquant")
RUNS = int(os.environ.get("RUNS", "3"))


def write_folder(folder, hidden=1024, layers=7, heads=16, ff=2816, vocab=32000):
    from transformers import PreTrainedTokenizerFast
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(5)
    shapes = [("model.embed_tokens.weight", (vocab, hidden))]
    for layer in range(layers):
        prefix = f"model.layers.{layer}."
        shapes += [(prefix + "input_layernorm.weight", (hidden,)), (prefix + "self_attn.q_proj.weight", (hidden, hidden)),
                   (prefix + "self_attn.k_proj.weight", (hidden, hidden)), (prefix + "self_attn.v_proj.weight", (hidden, hidden)),
                   (prefix + "self_attn.o_proj.weight", (hidden, hidden)), (prefix + "post_attention_layernorm.weight", (hidden,)),
                   (prefix + "mlp.gate_proj.weight", (ff, hidden)), (prefix + "mlp.up_proj.weight", (ff, hidden)),
                   (prefix + "mlp.down_proj.weight", (hidden, ff))]
    shapes += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, shape in shapes:
        values = (np.ones(shape) if len(shape) == 1 else rng.normal(0, 0.02, shape)).astype(np.float16)
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + values.nbytes]}
        offset += values.nbytes
        blobs.append(values.tobytes())
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for blob in blobs:
            f.write(blob)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden, "intermediate_size": ff,
              "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": heads,
              "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": vocab,
              "tie_word_embeddings": False, "torch_dtype": "float16", "bos_token_id": 0, "eos_token_id": 1}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    tokenizer, specials = byte_level_tokenizer("llama-bpe")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, **specials).save_pretrained(folder)


def main():
    source = llama_cpp_dir()
    if source is None:
        sys.exit("convert_hf_to_gguf.py not found; set LLAMA_CPP_SOURCE")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        model = os.path.join(folder, "bench-llama")
        write_folder(model)
        size = sum(os.path.getsize(os.path.join(model, f)) for f in os.listdir(model))
        print(f"input: {size / 1e6:.0f} MB Hugging Face folder (F16 llama)")
        wrapper = os.path.join(folder, "convert_with_pre.py")
        with open(wrapper, "w") as f:
            f.write(WRAPPER)
        theirs_out, ours_out = os.path.join(folder, "theirs.gguf"), os.path.join(folder, "ours.gguf")
        commands = {
            "convert_hf_to_gguf.py": [sys.executable, wrapper, source, json.dumps([["llama-bpe", model, "q8_0", theirs_out]])],
            "swiftquant": [SWIFTQUANT, "convert", model, "-o", ours_out, "--preset", "llama-quantize", "--quiet", "--force"],
        }
        times = {name: [] for name in commands}
        cpu = {name: [] for name in commands}

        def run(name):
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(commands[name], check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)

        for name in commands:  # warm-up
            run(name)
        for values in (*times.values(), *cpu.values()):
            values.clear()
        for _ in range(RUNS):
            for name in commands:
                run(name)
        for name in commands:
            print(f"{name:22s} median {statistics.median(times[name]):.2f} s (CPU {statistics.median(cpu[name]):.2f} s)  runs "
                  + " ".join(f"{v:.2f}" for v in times[name]))
        ratio = statistics.median(times["swiftquant"]) / statistics.median(times["convert_hf_to_gguf.py"])
        cpu_ratio = statistics.median(cpu["swiftquant"]) / statistics.median(cpu["convert_hf_to_gguf.py"])
        print(f"ratio swiftquant / convert_hf_to_gguf.py: {ratio:.2f} (target ≤ 0.5); CPU time ratio {cpu_ratio:.2f}")
        _, ours = gguf_contents(ours_out)
        _, theirs = gguf_contents(theirs_out)
        same = sum(1 for name in theirs if ours.get(name) == theirs[name])
        print(f"tensors identical (name, type, shape, bytes): {same}/{len(theirs)}")


if __name__ == "__main__":
    main()
