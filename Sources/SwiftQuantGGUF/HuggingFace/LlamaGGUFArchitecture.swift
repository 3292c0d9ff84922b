import Foundation
import SwiftQuantCore

/// `LlamaForCausalLM` and `MistralForCausalLM` (llama.cpp's converter writes both with its
/// `LlamaModel` class, as architecture `llama`): q/k rows permuted to GGML's rotary layout.
public struct LlamaGGUFArchitecture: HuggingFaceGGUFArchitecture {
    public init() {}
    public var huggingFaceNames: [String] { ["LlamaForCausalLM", "MistralForCausalLM"] }
    public var ggufArchitecture: String { "llama" }

    public func mapping(forTensor name: String, shape: [Int], in folder: HuggingFaceFolder) throws -> HuggingFaceTensorMapping? {
        guard var mapping = try DecoderTensorNames.mapping(for: name, input: folder.path, architecture: ggufArchitecture) else { return nil }
        if mapping.ggufName.hasSuffix(".attn_q.weight") || mapping.ggufName.hasSuffix(".attn_q.bias") {
            mapping.transform = .permuteRotaryRows(heads: try folder.config.requiredInteger("num_attention_heads", "n_heads"))
        } else if mapping.ggufName.hasSuffix(".attn_k.weight") || mapping.ggufName.hasSuffix(".attn_k.bias") {
            // LlamaModel.permute with n_head_kv: the key heads, when they differ from the query heads.
            let heads = try folder.config.requiredInteger("num_attention_heads", "n_heads")
            let kvHeads = try folder.config.integer("num_key_value_heads", "n_kv_heads") ?? heads
            mapping.transform = .permuteRotaryRows(heads: kvHeads)
        }
        return mapping
    }

    public func hyperparameters(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry] {
        let config = folder.config
        var entries = try TextModelParameters.entries(architecture: ggufArchitecture, folder: folder)
        entries.append(.uint32("llama.vocab_size", try config.requiredInteger("vocab_size")))
        let rotary = try config.integer("head_dim")
            ?? config.requiredInteger("hidden_size") / max(1, config.requiredInteger("num_attention_heads"))
        entries.append(.uint32("llama.rope.dimension_count", rotary))
        return entries
    }

    public func tokenizer(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry] {
        try HuggingFaceVocabulary.entries(of: folder, order: [.sentencePiece, .llamaHF, .byteLevelBPE], spacePrefixFromConfig: true)
    }

    public func generatedTensors(of folder: HuggingFaceFolder) throws -> [GeneratedTensor] {
        try TextModelParameters.llama3RopeFactors(folder: folder).map { [$0] } ?? []
    }
}

/// `Qwen2ForCausalLM` (llama.cpp's `Qwen2Model`): llama's tensor names plus q/k/v biases,
/// no permutation (llama.cpp's qwen2 graph uses NEOX-style rotary), no `vocab_size` or
/// `rope.dimension_count` keys.
public struct Qwen2GGUFArchitecture: HuggingFaceGGUFArchitecture {
    public init() {}
    public var huggingFaceNames: [String] { ["Qwen2ForCausalLM"] }
    public var ggufArchitecture: String { "qwen2" }

    public func mapping(forTensor name: String, shape: [Int], in folder: HuggingFaceFolder) throws -> HuggingFaceTensorMapping? {
        try DecoderTensorNames.mapping(for: name, input: folder.path, architecture: ggufArchitecture)
    }

    public func hyperparameters(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry] {
        try TextModelParameters.entries(architecture: ggufArchitecture, folder: folder)
    }

    public func tokenizer(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry] {
        try HuggingFaceVocabulary.entries(of: folder, order: [.sentencePiece, .byteLevelBPE], spacePrefixFromConfig: false)
    }
}

/// gguf-py's `TensorNameMap` for the llama-style decoder tensors (`model.layers.N.…`).
enum DecoderTensorNames {
    static let global: [String: String] = [
        "model.embed_tokens": "token_embd",
        "model.norm": "output_norm",
        "lm_head": "output",
    ]
    static let perBlock: [String: String] = [
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    ]

    /// The GGUF name of a Hugging Face decoder tensor, `nil` for the rotary `inv_freq` buffers
    /// the converter drops.
    static func mapping(for name: String, input: String, architecture: String) throws -> HuggingFaceTensorMapping? {
        if name.hasSuffix(".rotary_emb.inv_freq") || name.hasSuffix(".attention.masked_bias") || name.hasSuffix(".attention.bias") {
            return nil
        }
        let suffix: String
        if name.hasSuffix(".weight") {
            suffix = ".weight"
        } else if name.hasSuffix(".bias") {
            suffix = ".bias"
        } else {
            throw HuggingFaceGGUFError.unmappedTensor(input: input, tensor: name, architecture: architecture)
        }
        let stem = String(name.dropLast(suffix.count))
        if let mapped = global[stem] { return HuggingFaceTensorMapping(ggufName: mapped + suffix) }
        let parts = stem.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
        if parts.count == 4, parts[0] == "model", parts[1] == "layers", let block = Int(parts[2]), block >= 0,
           String(block) == parts[2], let mapped = perBlock[String(parts[3])] {
            return HuggingFaceTensorMapping(ggufName: "blk.\(block).\(mapped)\(suffix)")
        }
        throw HuggingFaceGGUFError.unmappedTensor(input: input, tensor: name, architecture: architecture)
    }
}

extension GGUFMetadataEntry {
    static func uint32(_ key: String, _ value: Int) -> GGUFMetadataEntry {
        GGUFMetadataEntry(key: key, type: .uint32, value: .uint(UInt64(max(0, value))))
    }
    static func float32(_ key: String, _ value: Double) -> GGUFMetadataEntry {
        GGUFMetadataEntry(key: key, type: .float32, value: .float(Double(Float(value))))
    }
    static func string(_ key: String, _ value: String) -> GGUFMetadataEntry {
        GGUFMetadataEntry(key: key, type: .string, value: .string(value))
    }
    static func bool(_ key: String, _ value: Bool) -> GGUFMetadataEntry {
        GGUFMetadataEntry(key: key, type: .bool, value: .bool(value))
    }
}
