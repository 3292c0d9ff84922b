#!/usr/bin/env python3
"""SwiftQuant's BPE tokenizers against the `tokenizers` package itself.

Trains four tiny tokenizers on this repository's text with `tokenizers` (no downloads):
- gpt2:    byte-level BPE, ByteLevel pre-tokenizer with GPT-2's regex, ByteLevel decoder;
- llama3:  byte-level BPE, Split with Llama-3's regex (digits in runs of 1-3) + ByteLevel,
           ignore_merges, a TemplateProcessing post-processor adding <|begin_of_text|>;
- qwen2:   byte-level BPE, Split with Qwen2's regex (single digits), chat special tokens;
- llama2:  SentencePiece-style BPE: normalizer Prepend("▁") + Replace(" ", "▁"), byte_fallback
           with <0xNN> tokens in the vocabulary, unk with fuse_unk, decoder Replace + ByteFallback
           + Fuse + Strip, TemplateProcessing "<s> $A";
- metaspace: the same model with a Metaspace pre-tokenizer (prepend_scheme "first") instead.
Writes each tokenizer.json, a varied corpus (CJK, emoji with ZWJ sequences, whitespace runs,
long digit runs, code, accents, special tokens inside text, the empty string) and the expected
ids and decoded text to a folder, then runs the Swift side, the test-only executable
`bpe-tokenize` ($BPE_TOKENIZE, else .build/debug/bpe-tokenize, built when absent), and counts
mismatches. `--write DIR` only writes the files (the Swift test suite uses this).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import ROOT, finish  # noqa: E402

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def training_text():
    """Any text: the repository's Markdown and Python, plus a few scripts BPE should see."""
    paths = sorted(glob.glob(os.path.join(ROOT, "*.md")) + glob.glob(os.path.join(ROOT, "Samples", "*.md"))
                   + glob.glob(os.path.join(ROOT, "Tests", "Interop", "*.py")))
    texts = [open(p, encoding="utf-8").read() for p in paths]
    texts.append("日本語のテキスト、中文文本，한국어 텍스트. Ça été très déjà vu — naïve café. Привет, мир! 🙂👍🏽")
    return texts


def corpus():
    lines = [
        "", " ", "  ", "\t", "\n", "\n\n", " \n ", "Hello, world!", "Hello world", "  leading spaces",
        "trailing spaces   ", "tabs\tand\t\ttabs", "line one\nline two\r\nline three\n\n\nend",
        "mixed \t \n  whitespace \n", "It's they're we've I'm you'll he'd IT'S THEY'RE",
        "12345678901234567890", "3.14159 and 2,718,281 and 1e-10", "year 2024: 0x1F 007",
        "日本語のテキストです。", "中文文本，测试。", "한국어 텍스트", "Привет, мир!",
        "Ça été très déjà vu — naïve café", "e\u0301 vs \u00e9 (combining accent)",
        "emoji 🙂👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 heart ❤️", "🙂🙂🙂", "ZWJ\u200dinside",
        "def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; ++i) { a[i] = b[i]; }",
        "if x != y && z >= 3: print(f\"{x!r}\")", "<html><body class=\"x\">hi</body></html>",
        "snake_case_name CamelCaseName kebab-case-name", "$$$ %%% ^^^ ~~~ ```code```",
        "\u00a0non-breaking\u00a0space and\u3000ideographic space", "a\u2028b\u2029c",
        "control\u0001chars\u007f here", "\ufeffBOM at start", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters", "١٢٣ ٤٥٦ arabic digits ½ ²",
    ]
    with_specials = {
        "gpt2": ["a<|endoftext|>b", "<|endoftext|>", "text <|endoftext|> more"],
        "llama3": ["<|begin_of_text|>Hi<|eot_id|>", "x <|eot_id|>\n<|start_header_id|>user<|end_header_id|>\n\nhello"],
        "qwen2": ["<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", "a<|endoftext|>"],
        "llama2": ["<s>Hello</s>", "before <s> after", "[INST] hi [/INST]", "<0x41> is not a byte token"],
        "metaspace": ["<s>Hello</s>", "before <s> after"],
    }
    repo_lines = [line for line in open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split("\n")[:60]]
    return {name: lines + extra + repo_lines for name, extra in with_specials.items()}


def byte_level(pattern, specials, use_split, template=None, ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if use_split:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training_text(), trainer)
    if template:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{template} $A", special_tokens=[(template, tok.token_to_id(template))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def sentencepiece_like(metaspace):
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    if metaspace:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    else:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    # The byte tokens go in as special tokens so the trainer gives them ids 3..258, as in Llama-2.
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
                                  show_progress=False, limit_alphabet=120)
    tok.train_from_iterator(training_text(), trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    spec = json.loads(tok.to_str())
    # Llama-2 keeps the byte tokens in the vocabulary only: they are not added tokens, so a
    # literal "<0x41>" in text is ordinary text.
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] not in byte_tokens]
    return Tokenizer.from_str(json.dumps(spec))


def build():
    return {
        "gpt2": byte_level(GPT2, ["<|endoftext|>"], use_split=False),
        "llama3": byte_level(LLAMA3, ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                                      "<|end_header_id|>"], use_split=True, template="<|begin_of_text|>",
                             ignore_merges=True),
        "qwen2": byte_level(QWEN2, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], use_split=True),
        "llama2": sentencepiece_like(metaspace=False),
        "metaspace": sentencepiece_like(metaspace=True),
    }


def write(folder):
    """Writes NAME/tokenizer.json and NAME/expected.json (texts, ids with and without special
    tokens, decoded text with and without them) for each tokenizer; returns the names."""
    texts = corpus()
    for name, tok in build().items():
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        tok.save(os.path.join(folder, name, "tokenizer.json"))
        cases = []
        for text in texts[name]:
            ids = tok.encode(text, add_special_tokens=True).ids
            plain = tok.encode(text, add_special_tokens=False).ids
            # text_hex too: Foundation's JSONSerialization drops a U+FEFF inside strings.
            cases.append({"text": text, "text_hex": text.encode("utf-8").hex(), "ids": ids, "plain_ids": plain,
                          "decoded": tok.decode(ids, skip_special_tokens=False),
                          "decoded_skipping": tok.decode(ids, skip_special_tokens=True)})
        with open(os.path.join(folder, name, "expected.json"), "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
    return sorted(texts)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write(sys.argv[2])
        return 0
    binary = os.environ.get("BPE_TOKENIZE", os.path.join(ROOT, ".build", "debug", "bpe-tokenize"))
    if not os.path.exists(binary):
        subprocess.run(["swift", "build", "--product", "bpe-tokenize"], cwd=ROOT, check=True)
    found = []
    total = 0
    with tempfile.TemporaryDirectory() as folder:
        for name in write(folder):
            cases = json.load(open(os.path.join(folder, name, "expected.json"), encoding="utf-8"))
            result = subprocess.run([binary, os.path.join(folder, name, "tokenizer.json"),
                                     os.path.join(folder, name, "expected.json")],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                found.append(f"{name}: bpe-tokenize failed: {result.stderr.strip()}")
                continue
            got = json.loads(result.stdout)
            mismatches = 0
            for case, mine in zip(cases, got):
                # The streaming decoder, fed one id at a time, must give the whole decode.
                case["streamed"] = case["decoded"]
                for key in ("ids", "plain_ids", "decoded", "decoded_skipping", "streamed"):
                    total += 1
                    if case[key] != mine[key]:
                        mismatches += 1
                        found.append(f"{name} {key} {case['text']!r}: tokenizers {case[key]!r}, swift {mine[key]!r}")
            print(f"check_bpe_tokenizer: {name}: {len(cases)} texts, {mismatches} mismatches")
    return finish(found, f"check_bpe_tokenizer: {total} comparisons, {len(found)} mismatches")


if __name__ == "__main__":
    sys.exit(main())
