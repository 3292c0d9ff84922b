#!/usr/bin/env python3
"""Hugging Face folder → GGUF in one step (`swiftquant convert DIR -o m.gguf`) against llama.cpp's
own convert_hf_to_gguf.py (llama-cpp-python 0.3.36's sdist; $LLAMA_CPP_SOURCE or .cache/).

Tiny models with random weights, saved by transformers, with tokenizers trained here by the
`tokenizers` package:
  llama-bpe   LlamaForCausalLM, untied, GQA (4 heads, 2 kv heads), rope_scaling llama3
              (rope_freqs.weight), byte-level BPE on Llama 3's split regex (pre "llama-bpe");
  llama-spm   LlamaForCausalLM, tied embeddings (no output.weight), SentencePiece-style BPE
              with byte fallback in tokenizer.json (the converter's llama_hf path, model "llama");
  llama-sp    LlamaForCausalLM, untied, tokenizer.model trained by sentencepiece (BPE, byte
              fallback, a user-defined piece) and no tokenizer.json (_set_vocab_sentencepiece);
  qwen2       Qwen2ForCausalLM, tied, q/k/v biases (not permuted), Qwen2's split regex (pre "qwen2");
  mistral     MistralForCausalLM, untied, GPT-2 byte-level BPE (pre "gpt-2").
convert_hf_to_gguf.py names `pre` by hashing the token ids of a check text, which only works for
tokenizers it has seen; ours are new, so it runs through a wrapper that patches
TextModel.get_vocab_base_pre to return the `pre` we expect (the name our converter derives from
the pre-tokenizer's regex).

For each model: (a) F32: same tensor names, types and bytes; same metadata keys and values
(differences listed with the reason; only general.* are allowed to differ); (b) in llama.cpp:
the same token ids for a varied text, and last-token logits of our file vs theirs (identical
expected; checked to 1e-5 relative); (c) with --preset llama-quantize our Q8_0 file has the same
tensors, byte for byte, as `convert_hf_to_gguf.py --outtype q8_0`.

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
from interop_support import SWIFTQUANT, exit_if_failed, fail, llama_cpp_dir  # noqa: E402

TEXT = ("Hello world! The quick brown fox jumps over the lazy dog 12345 times.\n\n"
        "  Ünïcödé façade — naïve café; 東京 and emojis 🚀🦙, tabs\tand 3.14159, I've they'll WE'RE.")
KEEP_ALL = 'defaults: false\nrules:\n  - match: "*"\n    action: keep\n'
LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# general.* keys describe the file, not the model: the converter adds type/size_label/basename,
# we add swiftquant.* provenance and alignment; neither changes what llama.cpp runs.
ALLOWED_PREFIXES = ("general.", "swiftquant.")

WRAPPER = r'''
import json, runpy, sys
sys.path.insert(0, sys.argv[1])
from conversion import base
script = sys.argv[1] + "/convert_hf_to_gguf.py"
# One process for every conversion (torch is imported once): [[pre, folder, outtype, outfile], ...]
for pre, model, outtype, outfile in json.loads(sys.argv[2]):
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer, pre=pre: pre
    sys.argv = [script, model, "--outtype", outtype, "--outfile", outfile]
    runpy.run_path(script, run_name="__main__")
'''


def corpus():
    rng = np.random.default_rng(3)
    words = ("the model runs quantized weights on a small cpu with blocks of scales and rows "
             "llama qwen mistral token embedding attention head rotary position 0 1 2 3 42 1000 "
             "Hello World I've you'll WE'RE café naïve 東京 🚀 — ; : , . ! ? \t").split(" ")
    return [" ".join(rng.choice(words, 24)) + ("\n" if i % 3 == 0 else "") for i in range(400)] + [TEXT]


def byte_level_tokenizer(kind):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    if kind == "gpt-2":
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        regex = LLAMA3_REGEX if kind == "llama-bpe" else QWEN2_REGEX
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    # <|endoftext|> too: transformers' Qwen2TokenizerFast (which the converter's AutoTokenizer picks
    # for a qwen2 folder) adds it as a default special token when tokenizer.json lacks it, as real
    # Qwen2 tokenizers never do; we read tokenizer.json as it is.
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|endoftext|>"]
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus(), trainer)
    return tokenizer, {"bos_token": specials[0], "eos_token": specials[1]}


def spm_style_tokenizer():
    """A Llama 2 style tokenizer.json: BPE with byte fallback, <0xNN> tokens in the vocabulary."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                           decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tokenizer.train_from_iterator([line.replace(" ", "\u2581") for line in corpus()], trainer)
    data = json.loads(tokenizer.to_str())
    # Put the 256 byte tokens right after the specials, as Llama 2's vocabulary has them.
    vocab = sorted(data["model"]["vocab"].items(), key=lambda item: item[1])
    specials = [t for t, _ in vocab[:3]]
    rest = [t for t, _ in vocab[3:] if not (len(t) == 6 and t.startswith("<0x"))]
    ordered = specials + [f"<0x{b:02X}>" for b in range(256)] + rest
    data["model"]["vocab"] = {t: i for i, t in enumerate(ordered)}
    data["post_processor"] = {"type": "TemplateProcessing",
                              "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                              "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                       {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                              "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    return Tokenizer.from_str(json.dumps(data)), {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def sentencepiece_model(path):
    """A SentencePiece BPE model with byte fallback and a user-defined piece, written as tokenizer.model."""
    import io
    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus()), model_writer=model, vocab_size=400, model_type="bpe",
                                   byte_fallback=True, character_coverage=1.0, user_defined_symbols=["<tool>"],
                                   minloglevel=2)
    with open(os.path.join(path, "tokenizer.model"), "wb") as f:
        f.write(model.getvalue())
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
                   "add_eos_token": False, "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}, f)
    return spm.SentencePieceProcessor(model_proto=model.getvalue()).vocab_size()


def make_folder(path, kind):
    import torch
    import transformers
    from transformers import PreTrainedTokenizerFast
    torch.manual_seed(7)
    fast = None
    os.makedirs(path, exist_ok=True)
    if kind == "llama-sp":
        vocab, bos, eos = sentencepiece_model(path) + 3, 1, 2  # sentencepiece's <unk> <s> </s> are 0 1 2
    else:
        if kind == "llama-spm":
            tokenizer, specials = spm_style_tokenizer()
        else:
            tokenizer, specials = byte_level_tokenizer({"llama-bpe": "llama-bpe", "qwen2": "qwen2", "mistral": "gpt-2"}[kind])
        fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, **specials)
        # A few unused ids past the tokenizer ([PADn] in the GGUF). The llama_hf path does not
        # pad (llama.cpp then refuses the larger embedding), so that one gets the exact size.
        vocab = tokenizer.get_vocab_size() + (0 if kind == "llama-spm" else 3)
        bos, eos = fast.bos_token_id, fast.eos_token_id
    common = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, bos_token_id=bos, eos_token_id=eos)
    if kind == "llama-bpe":
        config = transformers.LlamaConfig(**common, tie_word_embeddings=False, rope_theta=500000.0,
                                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
        model = transformers.LlamaForCausalLM(config)
    elif kind in ("llama-spm", "llama-sp"):
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**common, tie_word_embeddings=kind == "llama-spm"))
    elif kind == "qwen2":
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**common, tie_word_embeddings=True))
    else:
        model = transformers.MistralForCausalLM(transformers.MistralConfig(**common, tie_word_embeddings=False))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.2)  # large enough that a wrong permutation shows in the logits
    model.save_pretrained(path, safe_serialization=True)
    if fast is not None:
        fast.save_pretrained(path)
    return {"llama-spm": "default", "llama-sp": "default", "mistral": "gpt-2"}.get(kind, kind)


def gguf_contents(path):
    import gguf
    reader = gguf.GGUFReader(path)
    fields = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        kind = field.types[0] if field.types else None
        if kind == gguf.GGUFValueType.ARRAY:
            value = [field.contents(i) for i in range(len(field.data))]
            value = [v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v for v in value]
            fields[name] = ("arr", field.types[-1].name, value)
        else:
            fields[name] = (kind.name if kind is not None else None, None, field.contents())
    tensors = {t.name: (t.tensor_type.name, [int(d) for d in t.shape], bytes(t.data.tobytes())) for t in reader.tensors}
    return fields, tensors


def compare(label, ours_path, theirs_path, quantized):
    ours_fields, ours = gguf_contents(ours_path)
    theirs_fields, theirs = gguf_contents(theirs_path)
    if sorted(ours) != sorted(theirs):
        fail(f"{label}: tensor names differ: only ours {sorted(set(ours) - set(theirs))}, only theirs {sorted(set(theirs) - set(ours))}")
    same = sum(1 for name in ours if name in theirs and ours[name] == theirs[name])
    for name in sorted(set(ours) & set(theirs)):
        if ours[name][:2] != theirs[name][:2]:
            fail(f"{label}: {name}: ours {ours[name][:2]}, theirs {theirs[name][:2]}")
        elif ours[name][2] != theirs[name][2]:
            fail(f"{label}: {name} ({ours[name][0]}) bytes differ")
    q8 = sum(1 for t in ours.values() if t[0] == "Q8_0")
    print(f"  {label}: {same}/{len(theirs)} tensors identical (name, type, shape, bytes; {q8} Q8_0)")
    if quantized:
        return
    differences = []
    for key in sorted(set(ours_fields) | set(theirs_fields)):
        a, b = ours_fields.get(key), theirs_fields.get(key)
        if a == b:
            continue
        if a is not None and b is not None and a[0] == b[0] == "FLOAT32" and np.float32(a[2]) == np.float32(b[2]):
            continue
        differences.append(key)
        if not key.startswith(ALLOWED_PREFIXES):
            show = lambda v: None if v is None else (v[0], v[1], (v[2][:5] + ["…"]) if isinstance(v[2], list) else v[2])
            fail(f"{label}: metadata {key}: ours {show(a)}, theirs {show(b)}")
    shared = len(set(ours_fields) & set(theirs_fields))
    print(f"  {label}: metadata: {shared} keys in both; differing or one-sided, all general.*/swiftquant.*: "
          f"{', '.join(differences) or 'none'}")


def run_model(path):
    """Token ids of TEXT and the last-token logits, in llama.cpp (one process per model file)."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--evaluate", path], capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"llama.cpp failed on {os.path.basename(path)}: {tail}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return out["tokens"], np.array(out["logits"], dtype=np.float64)


def evaluate_in_this_process(path):
    import ctypes
    import llama_cpp
    silent = llama_cpp.llama_log_callback(lambda level, text, data: None)
    llama_cpp.llama_log_set(silent, ctypes.c_void_p())
    model = llama_cpp.Llama(model_path=path, logits_all=False, verbose=False, n_ctx=256)
    tokens = model.tokenize(TEXT.encode(), add_bos=True, special=False)
    model.eval(tokens)
    print(json.dumps({"tokens": tokens, "logits": list(map(float, model.scores[len(tokens) - 1]))}))


def main():
    source = llama_cpp_dir()
    if source is None:
        fail("llama.cpp's convert_hf_to_gguf.py not found; set LLAMA_CPP_SOURCE to the llama.cpp folder of the llama-cpp-python 0.3.36 sdist")
        exit_if_failed("check_hf_gguf")
    with tempfile.TemporaryDirectory() as folder:
        wrapper = os.path.join(folder, "convert_with_pre.py")
        with open(wrapper, "w") as f:
            f.write(WRAPPER)
        keep_all = os.path.join(folder, "keep-all.yaml")
        with open(keep_all, "w") as f:
            f.write(KEEP_ALL)
        kinds = ("llama-bpe", "llama-spm", "llama-sp", "qwen2", "mistral")
        jobs, pres = [], {}
        for kind in kinds:
            pres[kind] = make_folder(os.path.join(folder, kind), kind)
            for outtype in ("f32", "q8_0"):
                jobs.append([pres[kind], os.path.join(folder, kind), outtype, os.path.join(folder, f"{kind}-theirs-{outtype}.gguf")])
        result = subprocess.run([sys.executable, wrapper, source, json.dumps(jobs)], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"convert_hf_to_gguf.py failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
            exit_if_failed("check_hf_gguf")
        for kind in kinds:
            model = os.path.join(folder, kind)
            print(f"{kind}: pre '{pres[kind]}'")
            outputs = {}
            for outtype in ("f32", "q8_0"):
                theirs = os.path.join(folder, f"{kind}-theirs-{outtype}.gguf")
                ours = os.path.join(folder, f"{kind}-ours-{outtype}.gguf")
                extra = ["--config", keep_all] if outtype == "f32" else ["--preset", "llama-quantize"]
                result = subprocess.run([SWIFTQUANT, "convert", model, "-o", ours, "--quiet", *extra], capture_output=True, text=True)
                if result.returncode != 0:
                    fail(f"{kind}: swiftquant convert failed: {result.stderr.strip()}")
                    break
                compare(f"{kind} {outtype}", ours, theirs, quantized=outtype != "f32")
                outputs[outtype] = (ours, theirs)
            if "f32" not in outputs:
                continue
            try:
                our_tokens, our_logits = run_model(outputs["f32"][0])
                their_tokens, their_logits = run_model(outputs["f32"][1])
            except RuntimeError as error:
                fail(f"{kind}: {error}")
                continue
            if our_tokens != their_tokens:
                fail(f"{kind}: llama.cpp tokenizes differently: ours {our_tokens[:12]}…, theirs {their_tokens[:12]}…")
            relative = float(np.abs(our_logits - their_logits).max() / max(1e-30, np.abs(their_logits).max()))
            print(f"  {kind}: llama.cpp: {len(our_tokens)} tokens identical; last-token logits max relative difference {relative:.3g}")
            if relative > 1e-5:
                fail(f"{kind}: logits differ from convert_hf_to_gguf.py's GGUF (relative {relative:.3g} > 1e-5)")
    exit_if_failed("check_hf_gguf")
    print("check_hf_gguf: passed")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--evaluate":
        evaluate_in_this_process(sys.argv[2])
    else:
        main()
