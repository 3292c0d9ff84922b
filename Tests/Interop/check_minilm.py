#!/usr/bin/env python3
"""minilm-embed against the independent numpy reference (minilm_reference.py).

1. Token ids: Swift == the Python reimplementation (and == the `tokenizers` package on the
   model's tokenizer.json, when that package is installed) for every sentence.
2. fp32 embeddings: max |Swift − reference| ≤ 1e-4 for every sentence.
3. int8: `swiftquant convert`, then `minilm-embed --checkpoint`, cosine to the fp32 reference:
   - default rules (per channel, zstd): every sentence ≥ 0.995 and the median ≥ 0.999. Per
     channel misses 0.999 on the shortest inputs (the empty text, i.e. [CLS] [SEP] alone,
     is at 0.9965; "Hello, world!" at 0.9990): the same values come out of a float64 numpy
     simulation of per-channel weights, so this is the quantization, not the kernels;
   - per group of 128 (uncompressed, so the layers read the map in place): every sentence
     ≥ 0.999.
4. Bad arguments and files: exit status 1 with one `minilm-embed: error:` line.

Env: SWIFTQUANT = release swiftquant binary; MINILM_EMBED = release minilm-embed binary
(default: `swift build -c release --product minilm-embed`, run here). Exits 0 on success.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from interop_support import MINILM_DIR as model_dir, ROOT as root  # noqa: E402
from minilm_reference import MiniLM  # noqa: E402

SENTENCES = [
    "A man is playing a guitar.",
    "Hello, world!",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Wait... what?! (Really) — yes; no: maybe [x] {y} <z> @home #1 $5 %10 ^_^ ~tilde~ `code` \"quoted\" 'single'",
    "Crème brûlée à la française, naïve café, São Paulo, Zürich, Ångström, İstanbul, Straße",
    "我喜欢学习中文。日本語の文章も大丈夫です。한국어 문장도 테스트합니다.",
    "In 2023, 3.14159 × 10^5 people paid $1,234.56 on 12/31 at 23:59:59 (+/- 0.5%).",
    "Ελληνικά και русский текст: ΟΔΥΣΣΕΥΣ.",
    "emoji 😀🚀 and zero\u200bwidth and tab\there\nnewline",
    "a" * 150 + " supercalifragilisticexpialidocious antidisestablishmentarianism",
    "   ",
    "",
    # Over 256 tokens: truncated to [CLS] + 254 pieces + [SEP].
    " ".join(["The committee reviewed the quarterly financial statements, discussed budget "
              "allocations for research, and approved the revised hiring plan."] * 14),
]


def run(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check_minilm: {' '.join(args[:3])} … failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def main():
    swiftquant = os.environ.get("SWIFTQUANT")
    embed = os.environ.get("MINILM_EMBED")
    if not embed:
        # Built here (incrementally) so that a stale binary from an earlier build is never tested.
        subprocess.run(["swift", "build", "-c", "release", "--product", "minilm-embed"], cwd=root, check=True,
                       stdout=subprocess.DEVNULL)
        bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, check=True,
                                  capture_output=True, text=True).stdout.strip()
        embed = os.path.join(bin_path, "minilm-embed")
    failures = []

    reference = MiniLM(model_dir)
    ids_reference = [reference.tokenizer.encode(s, reference.max_length) for s in SENTENCES]
    ids_swift = json.loads(run([embed, "--model", model_dir, "--tokens", "--", *SENTENCES]))["tokens"]
    for s, a, b in zip(SENTENCES, ids_swift, ids_reference):
        if a != b:
            failures.append(f"token ids differ for {s[:40]!r}: swift {a[:10]}… reference {b[:10]}…")
    assert max(len(i) for i in ids_reference) == reference.max_length, "the long sentence must hit truncation"
    try:
        from tokenizers import Tokenizer
    except ImportError:
        Tokenizer = None
    if Tokenizer is not None:
        hf = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        hf.no_padding()
        hf.enable_truncation(reference.max_length)
        for s, a in zip(SENTENCES, ids_swift):
            if hf.encode(s).ids != a:
                failures.append(f"token ids differ from the tokenizers package for {s[:40]!r}")
        print("check_minilm: token ids also match the tokenizers package")

    expected = np.array([reference.embed(s) for s in SENTENCES])
    fp32 = np.array(json.loads(run([embed, "--model", model_dir, "--json", "--", *SENTENCES]))["embeddings"])
    fp32_error = np.abs(fp32 - expected).max(axis=1)
    for s, e in zip(SENTENCES, fp32_error):
        if not e <= 1e-4:
            failures.append(f"fp32 embedding of {s[:40]!r} is {e:.2e} away from the reference (limit 1e-4)")
    print(f"check_minilm: fp32 max abs error vs numpy reference: {fp32_error.max():.2e} "
          f"over {len(SENTENCES)} sentences")

    if not swiftquant:
        failures.append("SWIFTQUANT is not set; the int8 part needs `swiftquant convert`")
    else:
        source = os.path.getsize(os.path.join(model_dir, "model.safetensors"))
        runs = [
            ("per-channel (default rules)", [], 0.995, 0.999, []),
            ("per-group 128, uncompressed", ["--granularity", "per-group", "--group-size", "128", "--no-compression"],
             0.999, 0.999, []),
            # W8A8 (int8 activations too, one scale per 12 input columns, minilm-embed's default):
            # each sentence must stay within 0.001 of weight-only per channel (checked below).
            ("per-channel W8A8", [], 0.995, 0.999, ["--int8-activations"]),
            # One activation scale per row, reported for comparison (min 0.9857 on empty text).
            ("per-channel W8A8, one scale per row", [], 0.985, 0.997, ["--int8-activations", "--activation-group-size", "0"]),
        ]
        cosines = {}
        with tempfile.TemporaryDirectory() as tmp:
            for label, options, each_limit, median_limit, embed_options in runs:
                checkpoint = os.path.join(tmp, "minilm.swq")
                run([swiftquant, "convert", os.path.join(model_dir, "model.safetensors"), "-o", checkpoint,
                     "--quiet", "--force", *options])
                int8 = np.array(json.loads(run([embed, "--model", model_dir, "--checkpoint", checkpoint, "--json",
                                                *embed_options, "--", *SENTENCES]))["embeddings"])
                cosine = (int8 * expected).sum(axis=1) / (
                    np.linalg.norm(int8, axis=1) * np.linalg.norm(expected, axis=1))
                cosines[label] = cosine
                for s, c in zip(SENTENCES, cosine):
                    if not c >= each_limit:
                        failures.append(f"{label}: int8 embedding of {s[:40]!r} has cosine {c:.5f} to fp32 "
                                        f"(limit {each_limit})")
                if not np.median(cosine) >= median_limit:
                    failures.append(f"{label}: median cosine {np.median(cosine):.5f} (limit {median_limit})")
                size = os.path.getsize(checkpoint)
                print(f"check_minilm: {label}: cosine to fp32 min {cosine.min():.5f}, median "
                      f"{np.median(cosine):.5f}; {sum(c < 0.999 for c in cosine)} of {len(cosine)} below 0.999; "
                      f"checkpoint {size} bytes = {size / source:.1%} of model.safetensors")

        if "per-channel W8A8" in cosines:
            weight_only, w8a8 = cosines["per-channel (default rules)"], cosines["per-channel W8A8"]
            per_row = cosines["per-channel W8A8, one scale per row"]
            for s, a, b, c in zip(SENTENCES, weight_only, w8a8, per_row):
                print(f"check_minilm: W8A8 {b:.5f} vs weight-only {a:.5f} ({b - a:+.5f}); one scale per row "
                      f"{c:.5f} ({c - a:+.5f}): {s[:40]!r}")
                if not b >= a - 0.001:
                    failures.append(f"W8A8 embedding of {s[:40]!r} has cosine {b:.5f}, more than 0.001 below "
                                    f"weight-only's {a:.5f}")

    # Bad input: exit status 1 and exactly one stderr line, never a trap.
    bad_runs = [
        ["--model", "/nonexistent", "x"],
        ["--model", model_dir, "--checkpoint", os.path.join(model_dir, "model.safetensors"), "x"],
        ["--model", model_dir, "--checkpoint", "/nonexistent.swq", "x"],
        ["--model", model_dir],
        ["--model", model_dir, "--bogus", "x"],
    ]
    for arguments in bad_runs:
        result = subprocess.run([embed, *arguments], capture_output=True, text=True)
        lines = result.stderr.strip().split("\n")
        if result.returncode != 1 or len(lines) != 1 or not lines[0].startswith("minilm-embed: error: "):
            failures.append(f"minilm-embed {' '.join(arguments)}: status {result.returncode}, stderr {result.stderr!r}")

    for failure in failures:
        print("check_minilm: FAIL: " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
