#!/usr/bin/env python3
"""GGUF written by swiftquant against llama.cpp itself (llama-cpp-python 0.3.36's build).

Two models: all-MiniLM-L6-v2 converted to an F32 GGUF by llama.cpp's own convert_hf_to_gguf.py
(from the llama-cpp-python sdist, which Tests/setup.sh unpacks into .cache/; or
$LLAMA_CPP_SOURCE; needs CPU torch), and a tiny llama with random weights written
by gguf-py (llama_gguf_fixture.py). For each:
(a) `llama_model_quantize` (llama-quantize's function, ftype MOSTLY_Q8_0) and
    `swiftquant convert X.gguf -o Y.gguf --preset llama-quantize` give the same tensors: names,
    order, ggml types and bytes, every one;
(b) our default output, our preset output and an output made with hostile rules (quantize
    everything, default skips off) load and run in llama.cpp — each in its own process, so an
    abort (the BERT token_types crash) is a failure here, not the end of the check — and agree
    with the F32 file: BERT sentence embeddings by cosine, llama logits by max error and top-1.
Then (c) GGUF → .swq → GGUF keeps every metadata key with its value (tokenizer arrays included)
and its type, except the widths the checkpoint's metadata types cannot carry (listed).

Run with SWIFTQUANT=<path to the swiftquant binary>. Prints what it measured.
"""
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from interop_support import MINILM_DIR, MODELS_HINT, SWIFTQUANT, exit_if_failed, fail, llama_cpp_dir, quiet_llama_cpp  # noqa: E402

SENTENCES = ["A man is eating food.", "The quick brown fox jumps over the lazy dog.",
             "Quantization keeps the model small.", "llama.cpp runs GGUF files on the CPU."]
PROMPT = b"hello world the model runs a quant check of the block scale"

HOSTILE_RULES = 'defaults: false\nrules:\n  - match: "*"\n'


def swiftquant(*args):
    result = subprocess.run([SWIFTQUANT, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"swiftquant {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def llama_quantize(source, output):
    """llama.cpp's llama_model_quantize with ftype MOSTLY_Q8_0 (what `llama-quantize X Y Q8_0` runs)."""
    import llama_cpp
    quiet_llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    status = llama_cpp.llama_model_quantize(source.encode(), output.encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama_model_quantize({source}) returned {status}")


def tensors(path):
    import gguf
    reader = gguf.GGUFReader(path)
    return [(t.name, t.tensor_type.name, bytes(t.data.tobytes())) for t in reader.tensors]


def compare_tensors(label, expected_path, actual_path):
    # llama-quantize writes the tensors in its model's order (grouped by block), we keep the
    # source's: llama.cpp finds tensors by name, so they are compared by name.
    expected, actual = tensors(expected_path), tensors(actual_path)
    if sorted(t[0] for t in expected) != sorted(t[0] for t in actual):
        fail(f"{label}: tensor names differ from llama-quantize's")
        return 0, len(expected)
    by_name = {t[0]: t for t in actual}
    same = 0
    for name, etype, ebytes in expected:
        _, atype, abytes = by_name[name]
        if etype != atype:
            fail(f"{label}: {name} is {atype}, llama-quantize writes {etype}")
        elif ebytes != abytes:
            fail(f"{label}: {name} ({etype}) bytes differ from llama-quantize's")
        else:
            same += 1
    quantized = sum(1 for t in expected if t[1] == "Q8_0")
    print(f"  {label}: {same}/{len(expected)} tensors identical to llama-quantize Q8_0 ({quantized} of them Q8_0)")
    return same, len(expected)


def evaluate(kind, path):
    """Runs `path` in llama.cpp in a child process; returns its outputs, or None when it crashed."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--evaluate", kind, path],
                            capture_output=True, text=True)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["(no output)"]
        fail(f"llama.cpp failed on {os.path.basename(path)} (status {result.returncode}): {tail[0]}")
        return None
    return np.array(json.loads(result.stdout.strip().splitlines()[-1]), dtype=np.float64)


def evaluate_in_this_process(kind, path):
    import llama_cpp
    if kind == "bert":
        model = llama_cpp.Llama(model_path=path, embedding=True, verbose=False, n_ctx=128)
        values = [model.embed(s) for s in SENTENCES]
    else:
        model = llama_cpp.Llama(model_path=path, logits_all=True, verbose=False, n_ctx=128)
        tokens = model.tokenize(PROMPT)
        model.eval(tokens)
        values = [list(map(float, model.scores[i])) for i in range(len(tokens))]
    print(json.dumps(values))


def check_bert(label, reference, path):
    values = evaluate("bert", path)
    if values is None:
        return
    cosines = [float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) for a, b in zip(reference, values)]
    print(f"  {label}: runs; sentence embeddings vs F32 GGUF: min cosine {min(cosines):.6f}")
    if min(cosines) < 0.999:
        fail(f"{label}: embedding cosine {min(cosines):.6f} < 0.999 against the F32 GGUF")


def check_llama(label, reference, path):
    values = evaluate("llama", path)
    if values is None:
        return
    max_error = float(np.abs(values - reference).max())
    spread = float(np.abs(reference).max())
    top1 = float(np.mean(values.argmax(axis=1) == reference.argmax(axis=1)))
    print(f"  {label}: runs; logits vs F32 GGUF over {len(values)} positions: max abs error {max_error:.4g}"
          f" (max |logit| {spread:.3g}), top-1 agreement {top1 * 100:.1f} %")
    if max_error > 0.05 * spread or top1 < 0.8:
        fail(f"{label}: logits too far from F32 (max error {max_error:.4g}, top-1 {top1 * 100:.1f} %)")


def check_model(kind, source, folder):
    print(f"{kind}: {os.path.basename(source)}")
    theirs = os.path.join(folder, f"{kind}-llama-quantize.gguf")
    llama_quantize(source, theirs)
    preset = os.path.join(folder, f"{kind}-preset.gguf")
    swiftquant("convert", source, "-o", preset, "--preset", "llama-quantize", "--quiet", "--force")
    compare_tensors(f"{kind} --preset llama-quantize", theirs, preset)

    default = os.path.join(folder, f"{kind}-default.gguf")
    swiftquant("convert", source, "-o", default, "--quiet", "--force")
    rules = os.path.join(folder, "hostile.yaml")
    with open(rules, "w") as f:
        f.write(HOSTILE_RULES)
    hostile = os.path.join(folder, f"{kind}-hostile.gguf")
    swiftquant("convert", source, "-o", hostile, "--config", rules, "--quiet", "--force")

    reference = evaluate(kind, source)
    if reference is None:
        return
    check = check_bert if kind == "bert" else check_llama
    for label, path in (("llama-quantize Q8_0", theirs), ("ours, default rules", default),
                        ("ours, --preset llama-quantize", preset), ("ours, hostile rules (quantize *)", hostile)):
        check(label, reference, path)


# GGUF value types, by gguf-py's names, that a checkpoint's metadata (int, uint, float) carries
# at another width; what the round trip may turn them into.
WIDENED = {"UINT8": "UINT32", "UINT16": "UINT32", "INT8": "INT32", "INT16": "INT32", "UINT64": "UINT32",
           "INT64": "INT32", "FLOAT64": "FLOAT32"}


def metadata(path):
    import gguf
    reader = gguf.GGUFReader(path)
    fields = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        vtype = field.types[0].name
        subtype = field.types[1].name if len(field.types) > 1 else None
        if vtype == "ARRAY":
            value = [field.parts[i].tobytes() for i in field.data]
        else:
            value = field.parts[field.data[0]].tobytes() if field.data else None
        fields[key] = (vtype, subtype, value, field.contents())
    return fields


def check_round_trip(source, folder):
    print("GGUF → .swq → GGUF metadata")
    checkpoint = os.path.join(folder, "roundtrip.swq")
    back = os.path.join(folder, "roundtrip.gguf")
    swiftquant("convert", source, "-o", checkpoint, "--skip", "*", "--quiet", "--force")
    swiftquant("convert", checkpoint, "-o", back, "--skip", "*", "--quiet", "--force")
    before, after = metadata(source), metadata(back)
    written_by_us = {"general.file_type", "general.quantization_version", "general.alignment"}
    kept = widened = 0
    changes = set()
    for key, (vtype, subtype, raw, contents) in before.items():
        if key in written_by_us:
            continue
        if key not in after:
            fail(f"round trip: key {key} is missing")
            continue
        atype, asub, araw, acontents = after[key]
        if (vtype, subtype) == (atype, asub):
            if raw != araw:
                fail(f"round trip: {key} ({vtype}) changed value")
            else:
                kept += 1
            continue
        expected = (WIDENED.get(vtype, vtype), WIDENED.get(subtype, subtype) if subtype else None)
        if (atype, asub) != expected or acontents != contents:
            fail(f"round trip: {key} was {vtype}/{subtype}, is {atype}/{asub}"
                 + ("" if acontents == contents else " with another value"))
            continue
        widened += 1
        changes.add(f"{vtype if vtype != 'ARRAY' else subtype}→{atype if atype != 'ARRAY' else asub}")
    tokens = len(before.get("tokenizer.ggml.tokens", (None, None, [], []))[3])
    print(f"  {kept} keys identical in type and bytes, {widened} with the same value at another width"
          f" ({', '.join(sorted(changes)) or 'none'}); tokenizer.ggml.tokens: {tokens} tokens kept")
    if tensors(source) != tensors(back):
        fail("round trip: tensors differ after GGUF → .swq → GGUF (everything kept both ways)")
    check_bert("round-tripped GGUF", evaluate("bert", source), back)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--evaluate":
        evaluate_in_this_process(sys.argv[2], sys.argv[3])
        return
    source_dir = llama_cpp_dir()
    if source_dir is None:
        fail("llama.cpp's convert_hf_to_gguf.py not found; set LLAMA_CPP_SOURCE to the llama.cpp folder of the llama-cpp-python 0.3.36 sdist")
        exit_if_failed("check_llama_cpp")
    if not os.path.exists(os.path.join(MINILM_DIR, "model.safetensors")):
        fail(f"{MINILM_DIR}: all-MiniLM-L6-v2 not found; {MODELS_HINT}")
        exit_if_failed("check_llama_cpp")
    from llama_gguf_fixture import write_llama_gguf
    with tempfile.TemporaryDirectory() as folder:
        bert = os.path.join(folder, "minilm-f32.gguf")
        converted = subprocess.run([sys.executable, os.path.join(source_dir, "convert_hf_to_gguf.py"), MINILM_DIR,
                                    "--outtype", "f32", "--outfile", bert], capture_output=True, text=True)
        if converted.returncode != 0:
            fail(f"convert_hf_to_gguf.py failed on MiniLM: {converted.stderr.strip().splitlines()[-1:]}")
            exit_if_failed("check_llama_cpp")
        llama = os.path.join(folder, "tiny-llama-f32.gguf")
        write_llama_gguf(llama)
        check_model("bert", bert, folder)
        check_model("llama", llama, folder)
        check_round_trip(bert, folder)
    exit_if_failed("check_llama_cpp")
    print("check_llama_cpp: ok")


if __name__ == "__main__":
    main()
