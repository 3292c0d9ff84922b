#!/usr/bin/env python3
"""A numpy reference for sentence-transformers' all-MiniLM-L6-v2, written independently of the
Swift implementation, to check `minilm-embed` against.

Tokenizer: BERT uncased tokenization as the model's tokenizer.json defines it (BertNormalizer
with lowercase + CJK padding + accent stripping, BertPreTokenizer, WordPiece), rewritten from
the algorithm's description:
  clean (drop NUL, U+FFFD, category C* except \t\n\r; whitespace → space) → pad CJK
  ideographs with spaces → NFD, drop Mn marks → lower-case → split on whitespace → split off
  punctuation → WordPiece greedy longest-match-first with '##' continuations, [UNK] for words
  over 100 chars or with no match.
Model: BERT embeddings (word + position + token type 0) + LayerNorm(1e-12), 6 post-LN layers
of 12-head self-attention and an erf-GELU MLP, mean pooling over the attention mask, L2 norm.
All math in float64 so that the reference error is far below the 1e-4 tolerance.

Usage as a script: minilm_reference.py MODEL_DIR SENTENCE... prints {"embeddings": [...]}.
"""
import json
import math
import os
import sys
import unicodedata

import numpy as np


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    # Every "C" category: controls, format characters, unassigned, private use, surrogates.
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    # ASCII symbols count as punctuation for BERT even where Unicode says otherwise ($, ^, `).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_tokenize(text):
    # The normalizer of the fast tokenizer sentence-transformers runs (tokenizer.json's
    # BertNormalizer): clean, pad CJK, strip accents (NFD, drop Mn), lower-case code point by
    # code point (so a final capital sigma becomes σ, not ς as str.lower() would make it).
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        if is_whitespace(ch):
            cleaned.append(" ")
        elif is_cjk(cp):
            cleaned.extend([" ", ch, " "])
        else:
            cleaned.append(ch)
    text = unicodedata.normalize("NFD", "".join(cleaned))
    text = "".join(c.lower() for c in text if unicodedata.category(c) != "Mn")
    # Then the pre-tokenizer: split on whitespace, then split off every punctuation character.
    tokens = []
    for word in text.split():
        current = []
        for ch in word:
            if is_punctuation(ch):
                if current:
                    tokens.append("".join(current))
                    current = []
                tokens.append(ch)
            else:
                current.append(ch)
        if current:
            tokens.append("".join(current))
    return tokens


def wordpiece(word, vocab, max_chars=100):
    if len(word) > max_chars:
        return ["[UNK]"]
    pieces = []
    start = 0
    while start < len(word):
        end = len(word)
        match = None
        while start < end:
            piece = word[start:end]
            if start > 0:
                piece = "##" + piece
            if piece in vocab:
                match = piece
                break
            end -= 1
        if match is None:
            return ["[UNK]"]
        pieces.append(match)
        start = end
    return pieces


class Tokenizer:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "vocab.txt"), encoding="utf-8") as f:
            tokens = [line.rstrip("\n") for line in f]
        self.vocab = {t: i for i, t in enumerate(tokens)}

    def encode(self, text, max_length=256):
        pieces = []
        for word in basic_tokenize(text):
            pieces.extend(wordpiece(word, self.vocab))
        pieces = pieces[: max_length - 2]
        ids = [self.vocab["[CLS]"]] + [self.vocab[p] for p in pieces] + [self.vocab["[SEP]"]]
        return ids


def load_safetensors(path):
    """A tiny safetensors reader (F32/I64 only), so the reference needs numpy alone."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[entry["dtype"]]
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
    return tensors


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class MiniLM:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = json.load(f)
        raw = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.w = {k: v.astype(np.float64) for k, v in raw.items() if v.dtype == np.float32}
        self.tokenizer = Tokenizer(model_dir)
        with open(os.path.join(model_dir, "sentence_bert_config.json")) as f:
            self.max_length = json.load(f)["max_seq_length"]

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def encode_ids(self, ids):
        w = self.w
        c = self.config
        n = len(ids)
        heads = c["num_attention_heads"]
        hidden = c["hidden_size"]
        d = hidden // heads
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], c["layer_norm_eps"])
        for layer in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."
            q = self.linear(x, p + "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
            k = self.linear(x, p + "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
            v = self.linear(x, p + "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
            attention = self.linear(context, p + "attention.output.dense")
            x = layer_norm(attention + x, w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"], c["layer_norm_eps"])
            inner = gelu(self.linear(x, p + "intermediate.dense"))
            out = self.linear(inner, p + "output.dense")
            x = layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
                           c["layer_norm_eps"])
        # One sentence, no padding: the mask is all ones, so mean pooling is a plain mean.
        pooled = x.mean(axis=0)
        return pooled / max(np.linalg.norm(pooled), 1e-12)

    def embed(self, sentence):
        return self.encode_ids(self.tokenizer.encode(sentence, self.max_length))


def main():
    if len(sys.argv) < 3:
        print("usage: minilm_reference.py MODEL_DIR SENTENCE...", file=sys.stderr)
        return 1
    model = MiniLM(sys.argv[1])
    embeddings = [model.embed(s).tolist() for s in sys.argv[2:]]
    print(json.dumps({"embeddings": embeddings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
