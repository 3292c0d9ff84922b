"""A llama-shaped GGUF with random weights, written with gguf-py, that llama.cpp loads and runs.

Shared by check_llama_cpp.py (a tiny model whose logits are compared) and
Tests/Benchmarks/bench_gguf_vs_llama_quantize.py (a ~300 MB F16 model to quantize). The
vocabulary is a SentencePiece-style one (tokenizer.ggml.model "llama": tokens, scores and
token types, with the 256 byte tokens), enough for llama.cpp to tokenize any text.
"""
import numpy as np
import gguf

WORDS = ["the", "a", "model", "quant", "llama", "swift", "token", "of", "and", "to", "in", "is",
         "hello", "world", "run", "check", "byte", "block", "row", "scale"]


def vocabulary(size, user_defined=()):
    """`size` tokens: <unk>, <s>, </s>, the 256 byte tokens, the `user_defined` ones (token type
    4, which llama.cpp matches in text before tokenizing), then words and their pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + list(user_defined)
    types = [2, 3, 3] + [6] * 256 + [4] * len(user_defined)
    pieces = ["▁" + w for w in WORDS] + WORDS + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces += ["▁" + chr(c) for c in range(ord("a"), ord("z") + 1)] + ["▁"]
    for piece in pieces:
        if len(tokens) >= size:
            break
        if piece not in tokens:
            tokens.append(piece)
            types.append(1)
    n = 0
    while len(tokens) < size:
        tokens.append(f"▁w{n}")
        types.append(1)
        n += 1
    fixed = 259 + len(user_defined)
    scores = [0.0] * fixed + [-float(i) for i in range(size - fixed)]
    return tokens, scores, types


def write_llama_gguf(path, n_embd=64, n_layer=2, n_head=4, n_head_kv=2, n_ff=128, n_vocab=320,
                     dtype=np.float32, seed=0, name="tiny-llama", arch="llama", scale=None,
                     rope_freqs=None, user_defined=()):
    """Writes a llama (or, with arch="qwen2", a Qwen2 with q/k/v biases) GGUF with random weights
    in `dtype` for 2-D tensors and F32 for norms and biases, as convert_hf_to_gguf.py stores them.

    Weights are N(0, 0.02) by default; with `scale`, N(0, scale / sqrt(fan_in)) and an N(0, 1)
    embedding, which gives logits spread enough for greedy decoding to vary. `rope_freqs`
    (n_embd / n_head / 2 factors) is written as `rope_freqs.weight`, as convert_hf_to_gguf.py
    writes Llama 3's rope scaling."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(name)
    writer.add_context_length(256)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(1 if dtype == np.float16 else 0)
    tokens, scores, types = vocabulary(n_vocab, user_defined)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    def matrix(rows, cols, embedding=False):
        std = 0.02 if scale is None else (1.0 if embedding else scale / np.sqrt(cols))
        return (rng.standard_normal((rows, cols), dtype=np.float32) * std).astype(dtype)

    def bias(n):
        return (0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    head_dim = n_embd // n_head
    writer.add_tensor("token_embd.weight", matrix(n_vocab, n_embd, embedding=True))
    if rope_freqs is not None:
        writer.add_tensor("rope_freqs.weight", np.asarray(rope_freqs, dtype=np.float32))
    for i in range(n_layer):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", norm(n_embd))
        writer.add_tensor(p + "attn_q.weight", matrix(n_embd, n_embd))
        writer.add_tensor(p + "attn_k.weight", matrix(n_head_kv * head_dim, n_embd))
        writer.add_tensor(p + "attn_v.weight", matrix(n_head_kv * head_dim, n_embd))
        if arch == "qwen2":
            writer.add_tensor(p + "attn_q.bias", bias(n_embd))
            writer.add_tensor(p + "attn_k.bias", bias(n_head_kv * head_dim))
            writer.add_tensor(p + "attn_v.bias", bias(n_head_kv * head_dim))
        writer.add_tensor(p + "attn_output.weight", matrix(n_embd, n_embd))
        writer.add_tensor(p + "ffn_norm.weight", norm(n_embd))
        writer.add_tensor(p + "ffn_gate.weight", matrix(n_ff, n_embd))
        writer.add_tensor(p + "ffn_up.weight", matrix(n_ff, n_embd))
        writer.add_tensor(p + "ffn_down.weight", matrix(n_embd, n_ff))
    writer.add_tensor("output_norm.weight", norm(n_embd))
    writer.add_tensor("output.weight", matrix(n_vocab, n_embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
