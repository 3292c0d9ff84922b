#!/usr/bin/env python3
"""`swiftquant generate` on GGUF files against llama.cpp itself (llama-cpp-python 0.3.36's build).

Tiny random models written with gguf-py (llama_gguf_fixture.py: GQA, SentencePiece vocabulary,
weights N(0, 1/sqrt(fan_in)) so that greedy output varies): a llama, a qwen2 (q/k/v biases,
NEOX rotary) and a llama with `rope_freqs.weight` (Llama 3 scaling as convert_hf_to_gguf.py
writes it). llama.cpp runs with an F32 KV cache and without flash attention, so its F32 path
computes in Float32 throughout. For each F32 file:
(a) tokenization: our GGUF tokenizer (`generate --prompt`) gives llama_tokenize's ids, on the
    prompt and on a few varied texts (spaces, accents, CJK, emoji via byte fallback, user-defined
    tokens inside text);
(b) the prompt's logits (`generate --dump-logits`) match llama.cpp's at every position, max
    |ours - theirs| / max |theirs| <= 1e-3, and greedy 32 tokens are identical, as is their text;
(c) on the Q8_0 GGUF `swiftquant convert --preset llama-quantize` writes: (c1) llama.cpp on an
    F32 copy of that file (Q8_0 dequantized by gguf-py) is the same arithmetic as our INT8 layers
    (Q8_0 codes × fp16 scales, Float32 activations): logits <= 1e-3 and greedy 32 identical;
    (c2) on the Q8_0 file itself llama.cpp also quantizes activations to Q8_0, so logits differ
    by that: reported; greedy agreement is measured teacher-forced (our argmax after each of
    llama.cpp's greedy prefixes; >= 31/32 required) and free-running (common prefix, reported:
    one near-tie flip changes every later context).
Then tokenization alone: user-defined tokens inside text, and byte-level BPE ("gpt2")
vocabularies trained with the tokenizers package under llama.cpp's pre-tokenizers gpt-2,
llama-bpe and qwen2.

Run with SWIFTQUANT=<path to the swiftquant binary>. Prints what it measured.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from interop_support import SWIFTQUANT, exit_if_failed, fail, quiet_llama_cpp  # noqa: E402
from llama_gguf_fixture import write_llama_gguf  # noqa: E402

PROMPT = "hello world the model runs a quant check of the block scale"
TEXTS = ["  two leading spaces and  a run   of them", "naïve café ☕ 日本語のテキスト",
         "emoji 🦙🦙 and\ttabs\nnewlines", "numbers 3.14159 2026-11-29 and code: x[i] += 1;",
         "the quant model"]
# User-defined tokens (type 4) are matched in text before tokenizing. (llama.cpp also retypes
# tokens by name, e.g. <|end|> or <|im_end|> become control tokens; that is not mirrored.)
USER_DEFINED = ["<|user|>", "<|tool|>"]
BPE_TEXTS = TEXTS + ["Hello, World! It's 12345 tokens... DON'T stop", "don't  stop\n\n  now\r\n", "x=1;\ty = x**2  # ok"]
USER_TEXTS = ["<|user|> hello<|tool|>world <|user|><|user|>", "<|use|> <|tool", "a<|tool|>", " <|user|>  x"]
GENERATED = 32
# The fixture's size; seed 2 is one whose greedy paths have no near-ties (the smallest
# top-1/top-2 gap is 0.6 % of the largest logit), see the module docstring for what that buys.
SHAPE = dict(n_embd=128, n_layer=2, n_head=4, n_head_kv=2, n_ff=256, n_vocab=384, scale=1.0, seed=2)
RELATIVE_LIMIT = 1e-3
def open_llama_cpp(path):
    import llama_cpp
    quiet_llama_cpp()
    return llama_cpp.Llama(model_path=path, logits_all=True, verbose=False, n_ctx=256, n_threads=2,
                           type_k=0, type_v=0, flash_attn=False)  # GGML_TYPE_F32 cache


def llama_cpp_run(path, text):
    """llama.cpp's prompt ids, prompt logits, greedy tokens and their text."""
    model = open_llama_cpp(path)
    ids = model.tokenize(text.encode())
    model.eval(ids)
    logits = np.array([model.scores[i] for i in range(len(ids))], dtype=np.float64)
    tokens = []
    for _ in range(GENERATED):
        token = int(np.argmax(model.scores[model.n_tokens - 1]))
        tokens.append(token)
        model.eval([token])
    texts = {t: model.tokenize(t.encode()) for t in TEXTS}
    return dict(ids=ids, logits=logits, tokens=tokens, text=detokenize(model, tokens), texts=texts)


def detokenize(model, tokens):
    """llama_detokenize (the C function: Llama.detokenize keeps SentencePiece's leading space)."""
    import ctypes
    import llama_cpp
    array = (llama_cpp.llama_token * len(tokens))(*tokens)
    buffer = ctypes.create_string_buffer(4096)
    n = llama_cpp.llama_detokenize(model._model.vocab, array, len(tokens), buffer, len(buffer), False, False)
    if n < 0:
        raise RuntimeError("llama_detokenize: buffer too small")
    return buffer.raw[:n].decode("utf-8", "replace")


def swiftquant_generate(path, *args, dump=None):
    command = [SWIFTQUANT, "generate", path, "--ignore-eos", "--json", "--threads", "2", *args]
    if dump:
        command += ["--dump-logits", dump]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"swiftquant generate {os.path.basename(path)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def our_logits(path, ids, folder, max_tokens=GENERATED):
    dump = os.path.join(folder, "logits.f32")
    report = swiftquant_generate(path, "--prompt-ids", ",".join(map(str, ids)), "--max-tokens", str(max_tokens), dump=dump)
    rows = np.fromfile(dump, dtype=np.float32).astype(np.float64)
    return report, rows.reshape(-1, SHAPE["n_vocab"])[:len(ids)]


def relative_error(ours, theirs):
    """Per position max |ours - theirs| / max |theirs|; the worst position."""
    return float((np.abs(ours - theirs).max(axis=1) / np.abs(theirs).max(axis=1)).max())


def check_tokenization(label, path, reference):
    report = swiftquant_generate(path, "--prompt", PROMPT, "--max-tokens", "0")
    if report["prompt_tokens"] != reference["ids"]:
        fail(f"{label}: prompt ids differ from llama_tokenize: {report['prompt_tokens']} vs {reference['ids']}")
    same = 1
    for text, ids in reference["texts"].items():
        ours = swiftquant_generate(path, "--prompt", text, "--max-tokens", "0")["prompt_tokens"]
        if ours != ids:
            fail(f"{label}: {text!r} tokenizes to {ours}, llama.cpp to {ids}")
        else:
            same += 1
    print(f"  {label}: tokenization equal to llama_tokenize on {same}/{len(TEXTS) + 1} texts "
          f"(prompt: {len(reference['ids'])} ids)")


def check_user_defined_tokens(folder):
    path = os.path.join(folder, "user-defined.gguf")
    write_llama_gguf(path, n_embd=32, n_layer=1, n_head=2, n_head_kv=1, n_ff=64, n_vocab=320,
                     user_defined=USER_DEFINED)
    quiet_llama_cpp()
    import llama_cpp
    vocab = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    same = 0
    for text in USER_TEXTS:
        theirs = vocab.tokenize(text.encode())
        ours = swiftquant_generate(path, "--prompt", text, "--max-tokens", "0")["prompt_tokens"]
        if ours != theirs:
            fail(f"user-defined tokens: {text!r} tokenizes to {ours}, llama.cpp to {theirs}")
        else:
            same += 1
    print(f"user-defined tokens {USER_DEFINED}: tokenization equal to llama_tokenize on {same}/{len(USER_TEXTS)} texts")


def check_byte_level_bpe(folder, pre):
    """A GGUF "gpt2" vocabulary (byte-level BPE trained with the tokenizers package) with
    llama.cpp's pre-tokenizer `pre`: our ids equal llama_tokenize's."""
    import gguf
    import llama_cpp
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    corpus = [open(os.path.join(HERE, "..", "..", "README.md"), encoding="utf-8").read()] + BPE_TEXTS
    trained.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<|endoftext|>", "<|begin_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    model = json.loads(trained.to_str())["model"]
    tokens = [None] * len(model["vocab"])
    for token, index in model["vocab"].items():
        tokens[index] = token
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    path = os.path.join(folder, f"bpe-{pre}.gguf")
    writer = gguf.GGUFWriter(path, "llama")
    for key, value in dict(context_length=64, embedding_length=32, block_count=1, feed_forward_length=64,
                           head_count=2, head_count_kv=1).items():
        getattr(writer, f"add_{key}")(value)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in ("<|endoftext|>", "<|begin_of_text|>") else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<|begin_of_text|>"))
    writer.add_eos_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(pre == "llama-bpe")
    rng = np.random.default_rng(0)
    n = len(tokens)
    for name, shape in [("token_embd.weight", (n, 32)), ("blk.0.attn_norm.weight", (32,)),
                        ("blk.0.attn_q.weight", (32, 32)), ("blk.0.attn_k.weight", (16, 32)),
                        ("blk.0.attn_v.weight", (16, 32)), ("blk.0.attn_output.weight", (32, 32)),
                        ("blk.0.ffn_norm.weight", (32,)), ("blk.0.ffn_gate.weight", (64, 32)),
                        ("blk.0.ffn_up.weight", (64, 32)), ("blk.0.ffn_down.weight", (32, 64)),
                        ("output_norm.weight", (32,)), ("output.weight", (n, 32))]:
        writer.add_tensor(name, rng.standard_normal(shape).astype(np.float32) * 0.1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    quiet_llama_cpp()
    vocab = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    same = 0
    for text in BPE_TEXTS:
        theirs = vocab.tokenize(text.encode())
        ours = swiftquant_generate(path, "--prompt", text, "--max-tokens", "0")["prompt_tokens"]
        if ours != theirs:
            fail(f"byte-level BPE ({pre}): {text!r} tokenizes to {ours}, llama.cpp to {theirs}")
        else:
            same += 1
    print(f"byte-level BPE GGUF vocabulary, pre-tokenizer {pre}: tokenization equal to llama_tokenize "
          f"on {same}/{len(BPE_TEXTS)} texts ({n} tokens, {len(merges)} merges)")


def check_f32(label, path, reference, folder):
    report, logits = our_logits(path, reference["ids"], folder)
    error = relative_error(logits, reference["logits"])
    same = sum(a == b for a, b in zip(report["tokens"], reference["tokens"]))
    print(f"  {label}: prompt logits over {len(logits)} positions: max relative error {error:.3g} "
          f"(limit {RELATIVE_LIMIT:g}); greedy {same}/{GENERATED} identical "
          f"({len(set(reference['tokens']))} distinct tokens)")
    if error > RELATIVE_LIMIT:
        fail(f"{label}: logits relative error {error:.3g} > {RELATIVE_LIMIT:g}")
    if report["tokens"] != reference["tokens"]:
        fail(f"{label}: greedy tokens differ: ours {report['tokens']}, llama.cpp {reference['tokens']}")
    text = swiftquant_generate(path, "--prompt", PROMPT, "--max-tokens", str(GENERATED))
    if text["tokens"] != reference["tokens"] or text["text"] != reference["text"]:
        fail(f"{label}: `generate --prompt` gave {text['text']!r}, llama.cpp {reference['text']!r}")
    else:
        print(f"  {label}: `generate --prompt` end to end: same ids and text as llama.cpp ({len(text['text'])} characters)")


def dequantized_copy(source, output):
    """`source` with every Q8_0 tensor dequantized to F32 by gguf-py, metadata unchanged."""
    import gguf
    reader = gguf.GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(output, arch)
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        writer.add_key_value(field.name, field.contents(), kind,
                             sub_type=field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None)
    for tensor in reader.tensors:
        data = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        writer.add_tensor(tensor.name, data.reshape([int(n) for n in reversed(tensor.shape)]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check_q8_0(label, source, folder):
    q8 = os.path.join(folder, "model-q8_0.gguf")
    subprocess.run([SWIFTQUANT, "convert", source, "-o", q8, "--preset", "llama-quantize", "--quiet", "--force"],
                   check=True, capture_output=True)
    f32 = os.path.join(folder, "model-q8_0-dequantized.gguf")
    dequantized_copy(q8, f32)
    same_math = llama_cpp_run(f32, PROMPT)
    report, logits = our_logits(q8, same_math["ids"], folder)
    error = relative_error(logits, same_math["logits"])
    same = sum(a == b for a, b in zip(report["tokens"], same_math["tokens"]))
    print(f"  {label} Q8_0 (preset llama-quantize) vs llama.cpp on its dequantized F32 copy: "
          f"max relative error {error:.3g}; greedy {same}/{GENERATED} identical")
    if error > RELATIVE_LIMIT or report["tokens"] != same_math["tokens"]:
        fail(f"{label}: our Q8_0 layers differ from llama.cpp on the dequantized weights "
             f"(error {error:.3g}, greedy {same}/{GENERATED})")

    theirs = llama_cpp_run(q8, PROMPT)
    ours = swiftquant_generate(q8, "--prompt", PROMPT, "--max-tokens", str(GENERATED))
    if ours["prompt_tokens"] != theirs["ids"]:
        fail(f"{label} Q8_0: `generate --prompt` ids differ from llama_tokenize's")
    _, prompt_logits = our_logits(q8, theirs["ids"], folder, max_tokens=0)
    prefix = next((i for i, (a, b) in enumerate(zip(ours["tokens"], theirs["tokens"])) if a != b), GENERATED)
    # Teacher-forced: our logits after the prompt and each of llama.cpp's greedy prefixes.
    _, forced = our_logits(q8, theirs["ids"] + theirs["tokens"][:-1], folder, max_tokens=0)
    forced = forced[len(theirs["ids"]) - 1:]
    agree = int((forced.argmax(axis=1) == np.array(theirs["tokens"])).sum())
    ranked = np.sort(forced, axis=1)
    gap = float(((ranked[:, -1] - ranked[:, -2]) / np.abs(ranked).max(axis=1)).min())
    print(f"  {label} Q8_0 vs llama.cpp's Q8_0 (which also quantizes activations): prompt logits max relative "
          f"error {relative_error(prompt_logits, theirs['logits']):.3g}; greedy agreement teacher-forced "
          f"{agree}/{GENERATED} (required >= 31), free-running common prefix {prefix}/{GENERATED}; "
          f"smallest top-1 gap {gap:.3g} of the largest logit")
    if ours["tokens"] == theirs["tokens"]:
        if ours["text"] != theirs["text"]:
            fail(f"{label} Q8_0: same tokens but text {ours['text']!r}, llama.cpp {theirs['text']!r}")
        else:
            print(f"  {label} Q8_0: `generate --prompt` end to end: same ids and text as llama.cpp")
    if agree < GENERATED - 1:
        fail(f"{label}: Q8_0 greedy agreement with llama.cpp {agree}/{GENERATED} < {GENERATED - 1}")


def main():
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        fail("llama-cpp-python is not installed: run `bash Tests/setup.sh`")
        exit_if_failed("check_llama_generate_cpp")
    with tempfile.TemporaryDirectory() as folder:
        head_pairs = SHAPE["n_embd"] // SHAPE["n_head"] // 2
        # Llama 3's factors as conversion/llama.py computes them (base 10000, low/high 1/4,
        # original context 8192), with factor 32 so that they change the logits of a 48-token
        # prompt well beyond the limit (the high-frequency pairs keep factor 1).
        freqs = 1.0 / (10000.0 ** (np.arange(0, 2 * head_pairs, 2, dtype=np.float32) / (2 * head_pairs)))
        wavelength = 2 * np.pi / freqs
        smooth = (8192 / wavelength - 1) / (4 - 1)
        factors = np.where(wavelength < 8192 / 4, 1.0,
                           np.where(wavelength > 8192, 32.0, 1 / ((1 - smooth) / 32 + smooth)))
        models = [("llama", dict(arch="llama"), True), ("qwen2", dict(arch="qwen2"), True),
                  ("llama+rope_freqs", dict(arch="llama", rope_freqs=factors), False)]
        for label, options, with_q8 in models:
            path = os.path.join(folder, f"{label}.gguf")
            write_llama_gguf(path, name=label, **SHAPE, **options)
            print(f"{label}: {os.path.basename(path)} ({SHAPE['n_layer']} layers, {SHAPE['n_head']} heads / "
                  f"{SHAPE['n_head_kv']} kv heads, vocabulary {SHAPE['n_vocab']})")
            reference = llama_cpp_run(path, PROMPT)
            check_tokenization(label, path, reference)
            check_f32(label, path, reference, folder)
            if "rope_freqs" in options:
                plain = os.path.join(folder, "without-rope-freqs.gguf")
                write_llama_gguf(plain, name=label, **SHAPE, arch="llama")
                _, without = our_logits(plain, reference["ids"], folder, max_tokens=0)
                effect = relative_error(without, reference["logits"])
                print(f"  {label}: without the factors the logits would differ by {effect:.3g} (so they are applied)")
                if effect < 3 * RELATIVE_LIMIT:
                    fail(f"{label}: rope_freqs changes the logits by only {effect:.3g}; the check would not see it ignored")
            if with_q8:
                check_q8_0(label, path, folder)
        check_user_defined_tokens(folder)
        for pre in ("gpt-2", "llama-bpe", "qwen2"):
            check_byte_level_bpe(folder, pre)
    exit_if_failed("check_llama_generate_cpp")
    print("llama.cpp generation: all checks passed")


if __name__ == "__main__":
    main()
