import SwiftQuant

/// A tensor description with a consistent byte count.
func tensor(_ name: String, _ shape: [Int], _ dtype: DType = .f32) -> TensorInfo {
    let elements = shape.reduce(1, *)
    return TensorInfo(name: name, dtype: dtype, shape: shape, byteCount: dtype.byteCount(elementCount: elements) ?? 0)
}

/// A small Llama-style checkpoint: embeddings, `blocks` decoder layers, a final norm and a head.
func llamaTensors(blocks: Int = 4) -> [TensorInfo] {
    var tensors = [tensor("model.embed_tokens.weight", [1000, 256])]
    for block in 0..<blocks {
        let prefix = "model.layers.\(block)."
        tensors += [
            tensor(prefix + "input_layernorm.weight", [256]),
            tensor(prefix + "self_attn.q_proj.weight", [256, 256]),
            tensor(prefix + "self_attn.k_proj.weight", [64, 256]),
            tensor(prefix + "self_attn.v_proj.weight", [64, 256]),
            tensor(prefix + "self_attn.o_proj.weight", [256, 256]),
            tensor(prefix + "post_attention_layernorm.weight", [256]),
            tensor(prefix + "mlp.gate_proj.weight", [688, 256]),
            tensor(prefix + "mlp.up_proj.weight", [688, 256]),
            tensor(prefix + "mlp.down_proj.weight", [256, 688]),
        ]
    }
    tensors += [tensor("model.norm.weight", [256]), tensor("lm_head.weight", [1000, 256])]
    return tensors
}

/// Parses `text` as a config named `rules.yaml`.
func config(_ text: String) throws -> RulesConfig {
    try RulesConfig(text: text, path: "rules.yaml")
}

/// The error parsing `text` throws, or `nil` when it parses.
func configError(_ text: String) -> RulesConfigError? {
    do {
        _ = try RulesConfig(text: text, path: "rules.yaml")
        return nil
    } catch {
        return error
    }
}

extension QuantizationPlan {
    func action(_ name: String) -> TensorAction? { decision(for: name)?.action }
    func reason(_ name: String) -> String? { decision(for: name)?.reason }
}
