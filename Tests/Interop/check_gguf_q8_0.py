#!/usr/bin/env python3
"""swiftquant convert --format gguf writes GGUF that gguf-py reads, with Q8_0 bit-exact with ggml.

For safetensors sources in F32, F16 and BF16 (and the real MiniLM checkpoint), and for a GGUF
source written by gguf.GGUFWriter:
- gguf.GGUFReader opens the output; shapes, names and the data alignment are GGUF's;
- every Q8_0 tensor's bytes equal gguf.quants.quantize(source as float32, Q8_0), which is
  bit-exact with ggml's quantize_row_q8_0_ref;
- a quantized tensor whose rows are not a multiple of 32 is F16 (numpy's round-to-nearest-even);
- kept tensors (embeddings, 1-D norms, integers) are byte for byte the source's, in its dtype;
- metadata: general.architecture (from --arch, from config.json beside the input, or from a
  GGUF source), general.name, general.file_type = 7 (MOSTLY_Q8_0), general.quantization_version
  = 2, general.alignment = 32, with u32 types; a GGUF source's own keys keep their types.

Run with SWIFTQUANT=<path to the swiftquant binary>.
"""
import json
import os
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import (MINILM_DIR, MODELS_HINT, decode_float, exit_if_failed, fail, float_fixtures,  # noqa: E402
                             read_safetensors, run, write_safetensors)


def fixtures(rng):
    """A small transformer's worth of weights with Q8_0's edge cases: exact .5 ties (amax 127
    gives d = 1), an all-zero block, an outlier, a row length of 48 (not a multiple of 32), a
    conv kernel whose rows (the last dimension) are 3 long, a 1-D norm, an embedding, integers."""
    def weights(shape, scale=0.05):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    ties = weights((16, 64))
    ties[0, :32] = [127] + [k + 0.5 for k in range(-15, 16)]
    zero = weights((8, 64))
    zero[2, :32] = 0
    outlier = weights((32, 96))
    outlier[5, 7] = 40.0
    tensors = {
        "model.embed_tokens.weight": weights((100, 64)),
        "model.layers.0.self_attn.q_proj.weight": weights((64, 256)),
        "model.layers.0.self_attn.ties.weight": ties,
        "model.layers.0.self_attn.zero.weight": zero,
        "model.layers.0.mlp.outlier.weight": outlier,
        "model.layers.0.mlp.odd.weight": weights((24, 48)),
        "model.layers.0.conv.weight": weights((8, 4, 3, 3)),
        "model.layers.0.input_layernorm.weight": weights((256,), 1.0),
    }
    return float_fixtures(tensors)


GGUF_TO_ST = {QT.F32: "F32", QT.F16: "F16", QT.BF16: "BF16", QT.I64: "I64", QT.I32: "I32", QT.I8: "I8"}


def field_value(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return None, None
    return field.contents(), field.types


def planned_quantized(source):
    """The tensors `swiftquant plan` (default rules) quantizes; the rest are kept."""
    plan = json.loads(run(["plan", source, "--json"]).stdout)
    return {t["name"] for t in plan["tensors"] if t["action"] == "quantize"}


def check_output(tag, path, source_path, sources, architecture, name=None):
    """sources: name -> (dtype, shape, bytes). Returns the number of Q8_0 tensors checked."""
    quantized = planned_quantized(source_path)
    try:
        reader = gguf.GGUFReader(path)
    except Exception as error:  # noqa: BLE001 - any failure to read is the finding
        fail(f"{tag}: gguf.GGUFReader cannot read {path}: {error}")
        return 0
    for key, value, vtype in [
        ("general.architecture", architecture, VT.STRING),
        ("general.file_type", 7, VT.UINT32),
        ("general.quantization_version", 2, VT.UINT32),
        ("general.alignment", 32, VT.UINT32),
    ]:
        got, types = field_value(reader, key)
        if got != value or types != [vtype]:
            fail(f"{tag}: {key} is {got!r} {types}, expected {value!r} [{vtype}]")
    if name is not None and field_value(reader, "general.name")[0] != name:
        fail(f"{tag}: general.name is {field_value(reader, 'general.name')[0]!r}, expected {name!r}")

    names = [t.name for t in reader.tensors]
    if names != list(sources):
        fail(f"{tag}: tensor names/order {names} differ from the source's {list(sources)}")
    q8 = 0
    for tensor in reader.tensors:
        if tensor.name not in sources:
            continue
        dtype, shape, data = sources[tensor.name]
        gguf_shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
        if gguf_shape != tuple(shape) and not (shape == () and gguf_shape == (1,)):
            fail(f"{tag}: {tensor.name} has shape {gguf_shape}, source {tuple(shape)}")
        if tensor.data_offset % 32 != 0:
            fail(f"{tag}: {tensor.name} data at file offset {tensor.data_offset}, not 32-aligned")
        stored = np.asarray(tensor.data).view(np.uint8).reshape(-1).tobytes()
        if tensor.name not in quantized:
            if tensor.tensor_type != QT.Q8_0 and GGUF_TO_ST.get(tensor.tensor_type) == dtype and stored == data:
                continue
            fail(f"{tag}: kept tensor {tensor.name} is {tensor.tensor_type.name}, source {dtype}, bytes equal: {stored == data}")
            continue
        w = decode_float(dtype, shape, data)
        if shape[-1] % 32 != 0:
            expected = w.astype("<f2").tobytes()
            if tensor.tensor_type != QT.F16 or stored != expected:
                fail(f"{tag}: {tensor.name} (rows of {shape[-1]}) should be the F16 fallback, is {tensor.tensor_type.name}")
            continue
        reference = gguf.quants.quantize(w.reshape(-1, shape[-1]), QT.Q8_0).tobytes()
        if tensor.tensor_type != QT.Q8_0:
            fail(f"{tag}: {tensor.name} is {tensor.tensor_type.name}, expected Q8_0")
        elif stored != reference:
            ours = np.frombuffer(stored, np.uint8)
            theirs = np.frombuffer(reference, np.uint8)
            first = int(np.argmax(ours != theirs))
            fail(f"{tag}: {tensor.name} Q8_0 differs from gguf.quants.quantize at byte {first} "
                 f"(block {first // 34}): {ours[first]} vs {theirs[first]}")
        else:
            q8 += 1
    return q8


def main():
    rng = np.random.default_rng(11)
    q8_checked = 0
    with tempfile.TemporaryDirectory() as folder:
        # Safetensors sources in each float dtype; --arch names the architecture.
        for dtype, tensors in fixtures(rng).items():
            source = os.path.join(folder, f"tiny-{dtype}.safetensors")
            write_safetensors(source, tensors)
            output = os.path.join(folder, f"tiny-{dtype}.gguf")
            run(["convert", source, "-o", output, "--arch", "llama", "--quiet"])
            q8_checked += check_output(f"{dtype} source", output, source, tensors, "llama", name=f"tiny-{dtype}")
            # --format gguf with another extension writes the same file.
            other = os.path.join(folder, f"tiny-{dtype}.bin")
            run(["convert", source, "-o", other, "--format", "gguf", "--arch", "llama", "--quiet"])
            with open(output, "rb") as a, open(other, "rb") as b:
                if a.read() != b.read():
                    fail(f"{dtype}: --format gguf and the .gguf extension give different files")

        # The real model, its tensors under their own names: --arch skips the Hugging Face → GGUF
        # mapping (checked against convert_hf_to_gguf.py in check_hf_gguf.py); the name still
        # comes from the folder.
        if os.path.isdir(MINILM_DIR):
            output = os.path.join(folder, "minilm.gguf")
            model = os.path.join(MINILM_DIR, "model.safetensors")
            run(["convert", model, "-o", output, "--arch", "bert", "--quiet"])
            q8_checked += check_output("MiniLM", output, model, read_safetensors(model), "bert", name="all-MiniLM-L6-v2")
        else:
            fail(f"MiniLM not found at {MINILM_DIR}: {MODELS_HINT}")

        # A GGUF source written by gguf-py: GGUF in, GGUF out, its metadata kept with its types.
        source = os.path.join(folder, "from-gguf-py.gguf")
        writer = gguf.GGUFWriter(source, "llama")
        writer.add_name("tiny llama")
        writer.add_context_length(2048)
        writer.add_uint16("custom.u16", 7)
        writer.add_float32("custom.eps", 1e-5)
        writer.add_bool("custom.flag", True)
        writer.add_token_list(["<s>", "</s>", "héllo"])
        writer.add_array("custom.ints", [1, -2, 3])
        tensors = {}
        for name, shape, np_dtype, st_dtype in [
            ("token_embd.weight", (50, 64), np.float16, "F16"),
            ("blk.0.attn_q.weight", (64, 64), np.float32, "F32"),
            ("blk.0.ffn_up.weight", (96, 64), np.float16, "F16"),
            ("output_norm.weight", (64,), np.float32, "F32"),
        ]:
            w = (rng.standard_normal(shape) * 0.05).astype(np_dtype)
            writer.add_tensor(name, w)
            tensors[name] = (st_dtype, shape, w.tobytes())
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        output = os.path.join(folder, "from-gguf-py.q8_0.gguf")
        run(["convert", source, "-o", output, "--quiet"])
        q8_checked += check_output("GGUF source", output, source, tensors, "llama", name="tiny llama")
        reader = gguf.GGUFReader(output)
        for key, value, types in [
            ("llama.context_length", 2048, [VT.UINT32]),
            ("custom.u16", 7, [VT.UINT16]),
            ("custom.flag", True, [VT.BOOL]),
            ("tokenizer.ggml.tokens", ["<s>", "</s>", "héllo"], [VT.ARRAY, VT.STRING]),
        ]:
            got, got_types = field_value(reader, key)
            if got != value or got_types != types:
                fail(f"GGUF source: {key} is {got!r} {got_types}, expected {value!r} {types}")
        eps, eps_types = field_value(reader, "custom.eps")
        if eps_types != [VT.FLOAT32] or abs(eps - 1e-5) > 1e-12:
            fail(f"GGUF source: custom.eps is {eps!r} {eps_types}")
        ints, ints_types = field_value(reader, "custom.ints")
        if list(ints or []) != [1, -2, 3] or ints_types[0] != VT.ARRAY:
            fail(f"GGUF source: custom.ints is {ints!r} {ints_types}")

    if q8_checked < 40:
        fail(f"only {q8_checked} Q8_0 tensors were checked")
    exit_if_failed("check_gguf_q8_0")
    print(f"check_gguf_q8_0: {q8_checked} Q8_0 tensors bit-exact with gguf.quants.quantize; "
          "F16 fallback, kept tensors and metadata as expected")


if __name__ == "__main__":
    main()
