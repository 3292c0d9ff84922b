import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantPlan

/// Tensors of a BERT GGUF as `convert_hf_to_gguf.py` names them, plus tensors from the other
/// entries of llama.cpp's never-quantize list.
private func bertGGUFTensors() -> [TensorInfo] {
    [
        tensor("token_embd.weight", [1000, 64]),
        tensor("token_types.weight", [2, 64]),
        tensor("position_embd.weight", [512, 64]),
        tensor("token_embd_norm.weight", [64]),
        tensor("blk.0.attn_q.weight", [64, 64]),
        tensor("blk.0.attn_q.bias", [64]),
        tensor("blk.0.attn_output_norm.weight", [64]),
        tensor("blk.0.ffn_up.weight", [128, 64], .f16),
        tensor("blk.0.ffn_gate_inp.weight", [8, 64]),
        tensor("blk.0.ssm_conv1d.weight", [64, 4]),
        tensor("blk.0.attn_rel_b.weight", [32, 64]),
        tensor("blk.0.time_mix_w1.weight", [64, 64]),
        tensor("v.position_embd.weight", [64, 64]),
        tensor("row.weight", [1, 64]),
        tensor("blk.0.some_table", [64, 64]),
        tensor("output.weight", [1000, 64]),
    ]
}

@Suite("llama.cpp's never-quantize list")
struct LlamaQuantizeRulesTests {
    /// A hostile config: quantize everything, default skips off.
    private let everything = """
        defaults: false
        rules:
          - match: "*"
        """

    @Test func ggufOutputKeepsWhatLlamaCppNeverQuantizesWhateverTheRules() throws {
        let config = try config(everything)
        let plan = QuantizationPlan(tensors: bertGGUFTensors(), config: config, target: .gguf(architecture: "bert"))
        // Each of these is in llama-quant.cpp's tensor_allows_quantization as not quantized.
        for name in [
            "token_types.weight", "position_embd.weight", "blk.0.ffn_gate_inp.weight", "blk.0.ssm_conv1d.weight",
            "blk.0.attn_rel_b.weight", "blk.0.time_mix_w1.weight", "v.position_embd.weight", "row.weight",
            "blk.0.some_table",
        ] {
            #expect(plan.action(name) == .keep(.source), "\(name)")
            let reason = try #require(plan.reason(name))
            #expect(reason.hasPrefix("llama.cpp "), "\(name): \(reason)")
            // The notice names the rule that asked for quantization.
            #expect(reason.hasSuffix(#"(overrides rules.yaml:3 "*")"#), "\(name): \(reason)")
        }
        #expect(plan.reason("token_types.weight")!.contains(#""token_types.weight""#))
        // 1-D tensors are protected by our own rules first.
        #expect(plan.action("blk.0.attn_output_norm.weight") == .keep(.source))
        // The rest follows the rule.
        for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_up.weight", "output.weight"] {
            #expect(plan.action(name) == .quantize(.perChannel), "\(name)")
        }
    }

    @Test func otherOutputsFollowTheRulesAlone() throws {
        let plan = QuantizationPlan(tensors: bertGGUFTensors(), config: try config(everything))
        #expect(plan.action("token_types.weight") == .quantize(.perChannel))
        #expect(plan.action("blk.0.ffn_gate_inp.weight") == .quantize(.perChannel))
    }

    @Test func ggmlCountsLeadingOnesAsNoDimension() {
        // ggml's ne[] is the row-major shape reversed; ggml_n_dims drops trailing 1s.
        #expect(LlamaQuantizeRules.ggmlDimensionCount([1, 384]) == 1)
        #expect(LlamaQuantizeRules.ggmlDimensionCount([1, 1, 384]) == 1)
        #expect(LlamaQuantizeRules.ggmlDimensionCount([384, 1]) == 2)
        #expect(LlamaQuantizeRules.ggmlDimensionCount([8, 64, 64]) == 3)
        #expect(LlamaQuantizeRules.ggmlDimensionCount([]) == 1)
    }

    @Test func glm5NextListAppliesOnlyToThatArchitecture() {
        let tensor = tensor("blk.0.attn_k_b.weight", [64, 64])
        #expect(LlamaQuantizeRules.neverQuantizedReason(for: tensor, architecture: "glm5-next") != nil)
        #expect(LlamaQuantizeRules.neverQuantizedReason(for: tensor, architecture: "llama") == nil)
    }

    @Test func presetQuantizesEmbeddingsAndHeadLikeLlamaQuantize() throws {
        let config = try RulesConfig().applying(RuleOverrides(preset: "llama-quantize"))
        #expect(config.preset == .llamaQuantize)
        let plan = QuantizationPlan(tensors: bertGGUFTensors(), config: config, target: .gguf(architecture: "bert"))
        // llama-quantize Q8_0: token_embd and output are quantized (quantize_output_tensor is true by default).
        #expect(plan.action("token_embd.weight") == .quantize(.perChannel))
        #expect(plan.reason("token_embd.weight")!.hasPrefix("preset llama-quantize"))
        #expect(plan.action("output.weight") == .quantize(.perChannel))
        #expect(plan.action("blk.0.attn_q.weight") == .quantize(.perChannel))
        // Not allowed: copied as stored (no "overrides": no rule asked for them).
        #expect(plan.action("token_types.weight") == .keep(.source))
        #expect(!plan.reason("token_types.weight")!.contains("overrides"))
        #expect(plan.action("blk.0.attn_q.bias") == .keep(.source))
        #expect(plan.action("token_embd_norm.weight") == .keep(.source))
    }

    @Test func presetAppliesLlamaCppListForAnyOutput() throws {
        let config = try RulesConfig().applying(RuleOverrides(preset: "llama-quantize"))
        let plan = QuantizationPlan(tensors: bertGGUFTensors(), config: config)
        #expect(plan.action("token_types.weight") == .keep(.source))
        #expect(plan.action("token_embd.weight") == .quantize(.perChannel))
    }

    @Test func userKeepRulesStillWinUnderThePreset() throws {
        let config = try config(#"rules: [{match: "output.weight", action: keep}]"#)
            .applying(RuleOverrides(preset: "llama-quantize"))
        let plan = QuantizationPlan(tensors: bertGGUFTensors(), config: config, target: .gguf(architecture: "bert"))
        #expect(plan.action("output.weight") == .keep(.source))
        #expect(plan.action("token_embd.weight") == .quantize(.perChannel))
    }

    @Test func unknownPresetIsRefusedNamingTheChoices() {
        #expect(throws: RulesConfigError.invalidOption(option: "--preset", value: "llama", expected: "llama-quantize")) {
            try RulesConfig().applying(RuleOverrides(preset: "llama"))
        }
    }
}
