import Foundation
import SwiftQuantCore

/// The hyperparameter keys of llama.cpp's `TextModel.set_gguf_parameters`, for the keys a
/// llama-style decoder's `config.json` has.
enum TextModelParameters {
    /// The RoPE settings: `rope_parameters` (transformers 5) or `rope_scaling`, with
    /// `rope_theta` and `type` lifted as the converter does.
    struct Rope {
        var parameters: HuggingFaceJSON?
        var theta: Double?
        var type: String?
        var factor: Double?

        init(_ folder: HuggingFaceFolder) throws {
            let config = folder.config
            var parameters = try config.object("rope_parameters") ?? config.object("rope_scaling")
            if let full = try parameters?.object("full_attention") { parameters = full }
            self.parameters = parameters
            theta = try parameters?.number("rope_theta") ?? config.number("rope_theta", "rotary_emb_base")
            type = try parameters?.string("rope_type") ?? parameters?.string("type")
            factor = try parameters?.number("factor")
        }
    }

    static func entries(architecture arch: String, folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry] {
        let config = folder.config
        var entries: [GGUFMetadataEntry] = []
        entries.append(.uint32("\(arch).block_count", try config.requiredInteger("n_layers", "num_hidden_layers", "n_layer", "num_layers")))
        if let context = try config.integer("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length") {
            entries.append(.uint32("\(arch).context_length", context))
        }
        if let embedding = try config.integer("hidden_size", "n_embd", "dim") {
            entries.append(.uint32("\(arch).embedding_length", embedding))
        }
        if let feedForward = try config.integer("intermediate_size", "n_inner", "hidden_dim") {
            entries.append(.uint32("\(arch).feed_forward_length", feedForward))
        }
        if let heads = try config.integer("num_attention_heads", "n_head", "n_heads") {
            entries.append(.uint32("\(arch).attention.head_count", heads))
        }
        if let kvHeads = try config.integer("num_key_value_heads", "n_kv_heads") {
            entries.append(.uint32("\(arch).attention.head_count_kv", kvHeads))
        }
        if try config.bool("is_causal") == false {
            entries.append(.bool("\(arch).attention.causal", false))
        }
        let rope = try Rope(folder)
        switch rope.type {
        case nil, "default":
            break  // the converter writes no scaling keys ("default" only logs a warning)
        case "linear":
            if let factor = rope.factor {
                entries.append(.string("\(arch).rope.scaling.type", "linear"))
                entries.append(.float32("\(arch).rope.scaling.factor", factor))
            }
        case "yarn":
            if let factor = rope.factor, let parameters = rope.parameters {
                entries.append(.string("\(arch).rope.scaling.type", "yarn"))
                entries.append(.float32("\(arch).rope.scaling.factor", factor))
                entries.append(.uint32("\(arch).rope.scaling.original_context_length", try parameters.requiredInteger("original_max_position_embeddings")))
                if let value = try parameters.number("extrapolation_factor") { entries.append(.float32("\(arch).rope.scaling.yarn_ext_factor", value)) }
                if let value = try parameters.number("attention_factor", "attn_factor") { entries.append(.float32("\(arch).rope.scaling.yarn_attn_factor", value)) }
                if let value = try parameters.number("beta_fast") { entries.append(.float32("\(arch).rope.scaling.yarn_beta_fast", value)) }
                if let value = try parameters.number("beta_slow") { entries.append(.float32("\(arch).rope.scaling.yarn_beta_slow", value)) }
            }
        case let type? where type.lowercased() == "llama3" && arch == "llama":
            break  // a rope_freqs.weight tensor instead (llama3RopeFactors)
        case let type?:
            throw HuggingFaceGGUFError.unsupportedRopeScaling(config: folder.file("config.json"), type: type)
        }
        if let theta = rope.theta {
            entries.append(.float32("\(arch).rope.freq_base", theta))
        }
        if let epsilon = try config.number("rms_norm_eps", "norm_eps") {
            entries.append(.float32("\(arch).attention.layer_norm_rms_epsilon", epsilon))
        }
        if let epsilon = try config.number("layer_norm_eps", "layer_norm_epsilon", "norm_epsilon") {
            entries.append(.float32("\(arch).attention.layer_norm_epsilon", epsilon))
        }
        if config.has("num_local_experts") || config.has("num_experts") || config.has("n_routed_experts") {
            throw HuggingFaceGGUFError.unsupportedFeature(config: folder.file("config.json"), feature: "a mixture of experts")
        }
        if let headDimension = try config.integer("head_dim") {
            entries.append(.uint32("\(arch).attention.key_length", headDimension))
            entries.append(.uint32("\(arch).attention.value_length", headDimension))
        }
        return entries
    }

    /// llama 3's `rope_freqs.weight` (`LlamaModel.generate_extra_tensors`), or `nil` when the
    /// RoPE type is not llama3. Computed in Float32 as the converter's torch code does.
    static func llama3RopeFactors(folder: HuggingFaceFolder) throws -> GeneratedTensor? {
        let rope = try Rope(folder)
        guard let type = rope.type, type.lowercased() == "llama3", let parameters = rope.parameters else { return nil }
        let config = folder.config
        let base = rope.theta ?? 10000
        let dimension = try config.integer("head_dim")
            ?? config.requiredInteger("hidden_size") / max(1, config.requiredInteger("num_attention_heads"))
        let factor = try parameters.number("factor") ?? 8
        let lowFrequencyFactor = try parameters.number("low_freq_factor") ?? 1
        let highFrequencyFactor = try parameters.number("high_freq_factor") ?? 4
        let oldContext = Double(try parameters.integer("original_max_position_embeddings") ?? 8192)
        let lowWavelength = oldContext / lowFrequencyFactor
        let highWavelength = oldContext / highFrequencyFactor
        var factors: [Float] = []
        for index in stride(from: 0, to: dimension, by: 2) {
            // torch: base ** (arange(0, dim, 2, float32) / dim), all in float32.
            let exponent = Float(index) / Float(dimension)
            let frequency = 1 / Float(Foundation.pow(Double(Float(base)), Double(exponent)))
            let wavelength = Float(2 * Double.pi) / frequency
            if Double(wavelength) < highWavelength {
                factors.append(1)
            } else if Double(wavelength) > lowWavelength {
                factors.append(Float(factor))
            } else {
                let smooth = (Float(oldContext) / wavelength - Float(lowFrequencyFactor)) / Float(highFrequencyFactor - lowFrequencyFactor)
                factors.append(1 / ((1 - smooth) / Float(factor) + smooth))
            }
        }
        return GeneratedTensor(name: "rope_freqs.weight", shape: [factors.count], values: factors)
    }
}
