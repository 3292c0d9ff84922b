import SwiftQuantCore

/// What a plan is made for: the rules are the same, but GGUF output adds llama.cpp's limits.
public enum PlanTarget: Sendable, Hashable {
    /// A SwiftQuant checkpoint or safetensors: only the rules and the built-in protections apply.
    case anyFormat
    /// GGUF for llama.cpp, whose `general.architecture` is `architecture` when known:
    /// ``LlamaQuantizeRules`` keeps what llama.cpp never quantizes, whatever the rules say.
    case gguf(architecture: String?)

    /// The architecture when the target is GGUF.
    var ggufArchitecture: String?? {
        if case .gguf(let architecture) = self { return .some(architecture) }
        return nil
    }
}

/// A named set of defaults that replaces SwiftQuant's own (`--preset`).
public enum RulesPreset: String, Sendable, Hashable, CaseIterable {
    /// llama-quantize's tensor choices for `Q8_0` (llama.cpp `src/llama-quant.cpp`): every
    /// tensor it allows is quantized (`token_embd.weight` and `output.weight` too), every other
    /// tensor is copied as it is stored (1-D tensors stay F32 in a file `convert_hf_to_gguf.py`
    /// wrote). SwiftQuant's default skips (`lm_head`, embeddings) do not apply.
    case llamaQuantize = "llama-quantize"
}

/// The tensors llama.cpp never quantizes, by GGUF tensor name: a transcription of
/// `tensor_allows_quantization` in llama.cpp's `src/llama-quant.cpp` (the copy vendored in
/// llama-cpp-python 0.3.36), minus its `--leave-output-tensor` and `only_copy` options.
///
/// It matters because llama.cpp's CPU backend has no Q8_0 kernel for some of the operations
/// these tensors feed: BERT adds a row of `token_types.weight` with a plain add, and a Q8_0
/// one aborts (`binary_op: unsupported types: dst: f32, src0: f32, src1: q8_0`). GGUF output
/// therefore keeps them whatever the rules say.
public enum LlamaQuantizeRules {
    /// Substrings that keep a tensor in every architecture.
    static let keptSubstrings = [
        "_norm.weight",
        "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight",
        "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight",
        "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight",
        ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
        "a.rvq.codebook", "mm.a.code_embd",
    ]

    /// Whole names kept in every architecture (`LLM_TENSOR_POS_EMBD` and `LLM_TENSOR_TOKEN_TYPES`).
    static let keptNames = ["position_embd.weight", "token_types.weight"]

    /// Substrings that keep a tensor in `glm5-next` only.
    static let glm5NextSubstrings = [
        "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
        "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight", "ssm_g_b.weight",
        "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight",
    ]

    /// ggml's dimension count (`ggml_n_dims`): trailing `ne` of 1 do not count, and those are
    /// the *leading* sizes of a row-major shape, so `[1, 384]` is 1-D to llama.cpp.
    public static func ggmlDimensionCount(_ shape: [Int]) -> Int {
        max(1, shape.count - shape.prefix(while: { $0 == 1 }).count)
    }

    /// Why llama.cpp never quantizes `tensor` (`"llama.cpp never quantizes names containing \"_norm.weight\""`),
    /// or `nil` when llama-quantize would quantize it.
    public static func neverQuantizedReason(for tensor: TensorInfo, architecture: String?) -> String? {
        let name = tensor.name
        if ggmlDimensionCount(tensor.shape) < 2 {
            return "llama.cpp never quantizes tensors with fewer than 2 dimensions (ggml counts \(tensor.shape))"
        }
        if !name.hasSuffix("weight") { return "llama.cpp quantizes only names ending in \"weight\"" }
        if keptNames.contains(name) { return "llama.cpp never quantizes \(jsonQuoted(name)) (BERT adds its rows with no Q8_0 kernel)" }
        var substrings = keptSubstrings
        if architecture == "glm5-next" { substrings += glm5NextSubstrings }
        if let part = substrings.first(where: { name.contains($0) }) {
            return "llama.cpp never quantizes names containing \(jsonQuoted(part))"
        }
        return nil
    }
}
