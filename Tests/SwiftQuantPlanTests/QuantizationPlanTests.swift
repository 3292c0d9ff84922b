import Testing
import SwiftQuant

@Suite("Quantization plan")
struct QuantizationPlanTests {
    // MARK: Built-in defaults

    @Test func defaultsKeepHeadsEmbeddingsVectorsAndNonFloats() {
        let tensors = llamaTensors() + [
            tensor("model.rotary.inv_freq", [], .f32),
            tensor("position_ids", [1, 512], .i64),
            tensor("fp8.weight", [16, 16], .f8E4M3),
            tensor("empty.weight", [0, 16]),
            tensor("token_embd.weight", [100, 64], .f16),
            tensor("output.weight", [100, 64], .f16),
            tensor("blk.0.ffn_up.weight", [128, 64], .bf16),
        ]
        let plan = QuantizationPlan(tensors: tensors)
        #expect(plan.action("model.embed_tokens.weight") == .keep(.source))
        #expect(plan.reason("model.embed_tokens.weight") == #"default: name contains "embed""#)
        #expect(plan.reason("lm_head.weight") == #"default: name contains "lm_head""#)
        #expect(plan.reason("token_embd.weight") == #"default: name contains "embd""#)
        #expect(plan.reason("output.weight") == #"default: output head "output.weight""#)
        #expect(plan.reason("model.norm.weight") == "default: 1-D")
        #expect(plan.reason("model.rotary.inv_freq") == "default: scalar")
        #expect(plan.reason("position_ids") == "default: not float (I64)")
        #expect(plan.reason("fp8.weight") == "default: F8_E4M3 cannot be decoded")
        #expect(plan.reason("empty.weight") == "default: empty")
        #expect(plan.action("model.layers.2.mlp.down_proj.weight") == .quantize(.perChannel))
        #expect(plan.reason("model.layers.2.mlp.down_proj.weight") == "default: 2-D float")
        #expect(plan.action("blk.0.ffn_up.weight") == .quantize(.perChannel))
        #expect(plan.unusedRules.isEmpty)
        // Every decision is either keep or quantize, one per tensor, in order.
        #expect(plan.decisions.map(\.tensor.name) == tensors.map(\.name))
    }

    @Test func topLevelSettingsApplyToDefaultDecisions() throws {
        let plan = QuantizationPlan(
            tensors: llamaTensors() + [tensor("ids", [4, 4], .i64)],
            config: try config("granularity: per-group\ngroup_size: 64\nkeep_dtype: f16\n"))
        #expect(plan.action("model.layers.0.self_attn.q_proj.weight") == .quantize(.perGroup(size: 64)))
        #expect(plan.action("model.embed_tokens.weight") == .keep(.f16))
        #expect(plan.action("model.norm.weight") == .keep(.f16))
        // A non-float tensor is always kept exactly as stored.
        #expect(plan.action("ids") == .keep(.source))
    }

    @Test func perGroupFallsBackToPerChannelWithANote() throws {
        let tensors = [tensor("a.weight", [8, 256]), tensor("b.weight", [8, 100])]
        let plan = QuantizationPlan(tensors: tensors, config: try config("granularity: per-group\n"))
        #expect(plan.action("a.weight") == .quantize(.perGroup(size: 128)))
        #expect(plan.decision(for: "a.weight")?.notes == [])
        #expect(plan.action("b.weight") == .quantize(.perChannel))
        #expect(plan.decision(for: "b.weight")?.notes == ["per-group(128) does not divide 100 columns → per-channel"])
    }

    // MARK: Precedence

    @Test func userRulesComeFirstAndTheFirstMatchWins() throws {
        let plan = QuantizationPlan(
            tensors: llamaTensors(),
            config: try config(
                """
                rules:
                  - match: "*.q_proj.weight"
                    granularity: per-tensor
                  - match: "*_proj.weight"
                    granularity: per-group
                    group_size: 64
                  - match: "*.q_proj.weight"
                    action: keep
                """))
        #expect(plan.action("model.layers.1.self_attn.q_proj.weight") == .quantize(.perTensor))
        #expect(plan.reason("model.layers.1.self_attn.q_proj.weight") == #"rules.yaml:2 "*.q_proj.weight""#)
        #expect(plan.action("model.layers.1.mlp.up_proj.weight") == .quantize(.perGroup(size: 64)))
        #expect(plan.reason("model.layers.1.mlp.up_proj.weight") == #"rules.yaml:4 "*_proj.weight""#)
        // No rule matches: the defaults decide.
        #expect(plan.reason("model.norm.weight") == "default: 1-D")
        // The third rule only matches tensors the first one already decided.
        #expect(plan.unusedRules.map(\.rule.label) == [#"rules.yaml:7 "*.q_proj.weight""#])
        #expect(plan.unusedRules.first?.shadowedMatches == 4)
        #expect(plan.unusedRules.first?.description.contains("earlier rules decide all 4 tensors") == true)
    }

    @Test func skipOptionsComeBeforeConfigRules() throws {
        let plan = try QuantizationPlan(
            tensors: llamaTensors(),
            config: try config("rules:\n  - match: \"*.weight\"\n    granularity: per-tensor\n"),
            overrides: RuleOverrides(skipPatterns: ["*.o_proj.weight"], granularity: "per-group", groupSize: 32))
        #expect(plan.action("model.layers.0.self_attn.o_proj.weight") == .keep(.source))
        #expect(plan.reason("model.layers.0.self_attn.o_proj.weight") == #"--skip "*.o_proj.weight""#)
        // A rule's own granularity beats the command-line default.
        #expect(plan.action("model.layers.0.self_attn.q_proj.weight") == .quantize(.perTensor))
        let defaultsOnly = try QuantizationPlan(
            tensors: llamaTensors(), overrides: RuleOverrides(granularity: "per-group", groupSize: 32))
        #expect(defaultsOnly.action("model.layers.0.self_attn.q_proj.weight") == .quantize(.perGroup(size: 32)))
    }

    // MARK: Additivity

    static let broadQuantizeRules = [
        "rules:\n  - match: \"*\"\n",
        "rules:\n  - match: \"*.weight\"\n    granularity: per-tensor\n",
        "rules:\n  - match: 're:.*'\n",
        "rules:\n  - match: 're:lm_head\\.weight'\n  - match: 're:model\\.embed_tokens\\.weight'\n",
        "rules:\n  - match: [\"lm_head*\", \"*embed*\"]\n",
        "rules:\n  - match: \"*\"\n    min_elements: 0\n    dtypes: [F32]\n",
        "rules:\n  - match: \"model.layers.0.mlp.up_proj.weight\"\n    action: keep\n  - match: \"*\"\n",
    ]

    @Test(arguments: broadQuantizeRules)
    func addingRulesNeverDropsTheDefaultSkips(rules: String) throws {
        let plan = QuantizationPlan(tensors: llamaTensors(), config: try config(rules))
        for name in ["lm_head.weight", "model.embed_tokens.weight"] {
            #expect(plan.action(name) == .keep(.source), "\(name) must stay kept with \(rules)")
            let reason = try #require(plan.reason(name))
            #expect(reason.hasPrefix("default: name contains"), "\(reason)")
            #expect(reason.contains("overrides rules.yaml:"), "the reason names the rule that did not apply: \(reason)")
        }
    }

    @Test func aRuleNamingTheTensorExactlyQuantizesIt() throws {
        let plan = QuantizationPlan(
            tensors: llamaTensors(),
            config: try config("rules:\n  - match: [\"lm_head.weight\", \"*.q_proj.weight\"]\n    granularity: per-tensor\n"))
        #expect(plan.action("lm_head.weight") == .quantize(.perTensor))
        #expect(plan.action("model.embed_tokens.weight") == .keep(.source))
    }

    @Test func turningTheDefaultsOffQuantizesHeadsButNeverVectorsOrIntegers() throws {
        let tensors = llamaTensors() + [tensor("position_ids", [1, 8], .i64)]
        for plan in [
            QuantizationPlan(tensors: tensors, config: try config("defaults: false\n")),
            try QuantizationPlan(tensors: tensors, overrides: RuleOverrides(disableDefaultSkips: true)),
        ] {
            #expect(plan.action("lm_head.weight") == .quantize(.perChannel))
            #expect(plan.action("model.embed_tokens.weight") == .quantize(.perChannel))
            #expect(plan.reason("model.norm.weight") == "default: 1-D")
            #expect(plan.reason("position_ids") == "default: not float (I64)")
        }
    }

    @Test func quantizeRulesCannotQuantizeVectorsOrNonFloats() throws {
        let plan = QuantizationPlan(
            tensors: llamaTensors() + [tensor("position_ids", [1, 8], .i64)],
            config: try config(
                "defaults: false\nrules:\n  - match: [\"model.norm.weight\", \"position_ids\"]\n    keep_dtype: f16\n"))
        #expect(plan.action("model.norm.weight") == .keep(.f16))
        #expect(plan.reason("model.norm.weight") == #"default: 1-D (overrides rules.yaml:3 "model.norm.weight")"#)
        #expect(plan.action("position_ids") == .keep(.source))
        #expect(plan.reason("position_ids") == #"default: not float (I64) (overrides rules.yaml:3 "position_ids")"#)
    }

    // MARK: Conditions

    @Test func layersSelectBlocksAndNegativeIndicesCountFromTheLast() throws {
        let plan = QuantizationPlan(
            tensors: llamaTensors(blocks: 6),
            config: try config("rules:\n  - match: \"*\"\n    layers: [0, -1]\n    action: keep\n    keep_dtype: f16\n"))
        #expect(plan.lastBlockIndex == 5)
        for block in 0..<6 {
            let action = plan.action("model.layers.\(block).mlp.up_proj.weight")
            #expect(action == (block == 0 || block == 5 ? .keep(.f16) : .quantize(.perChannel)), "block \(block)")
        }
        // Tensors outside any block do not match a layers condition.
        #expect(plan.reason("lm_head.weight") == #"default: name contains "lm_head""#)
        #expect(plan.action("model.norm.weight") == .keep(.source))
    }

    @Test(arguments: ["model.layers", "encoder.layer", "transformer.h", "blocks", "blk"])
    func layersWorkWithEveryBlockPrefix(prefix: String) throws {
        let tensors = (0..<4).map { tensor("\(prefix).\($0).attn.weight", [8, 8]) }
        let plan = QuantizationPlan(
            tensors: tensors, config: try config("rules:\n  - match: \"*\"\n    layers: [-2, 1]\n    action: keep\n"))
        #expect(plan.decisions.map(\.quantizes) == [true, false, false, true])
    }

    @Test func layersBeyondTheCheckpointMatchNothingAndAreReported() throws {
        let plan = QuantizationPlan(
            tensors: llamaTensors(blocks: 2),
            config: try config("rules:\n  - match: \"*\"\n    layers: [-3, 7]\n    action: keep\n"))
        #expect(plan.decisions.allSatisfy { !$0.reason.hasPrefix("rules.yaml") })
        let unused = try #require(plan.unusedRules.first)
        #expect(unused.description.contains("conditions (layers, min_elements, dtypes) exclude them all"))

        let noBlocks = QuantizationPlan(
            tensors: [tensor("fc.weight", [4, 4])],
            config: try config("rules:\n  - match: \"*\"\n    layers: 0\n    action: keep\n"))
        #expect(noBlocks.lastBlockIndex == nil)
        #expect(noBlocks.action("fc.weight") == .quantize(.perChannel))
        #expect(noBlocks.unusedRules.count == 1)
    }

    @Test func minElementsAndDTypesNarrowARule() throws {
        let tensors = [
            tensor("small.weight", [4, 4], .f16), tensor("large.weight", [64, 64], .f16),
            tensor("large32.weight", [64, 64], .f32), tensor("exact.weight", [10, 10], .bf16),
        ]
        let plan = QuantizationPlan(
            tensors: tensors,
            config: try config("rules:\n  - match: \"*\"\n    min_elements: 100\n    dtypes: [F16, BF16]\n    action: keep\n"))
        #expect(plan.action("small.weight") == .quantize(.perChannel))
        #expect(plan.action("large.weight") == .keep(.source))
        #expect(plan.action("large32.weight") == .quantize(.perChannel))
        #expect(plan.action("exact.weight") == .keep(.source))
    }

    @Test func ruleSettingsReachTheDecision() throws {
        let plan = QuantizationPlan(
            tensors: llamaTensors(),
            config: try config(
                "group_size: 32\nkeep_dtype: bf16\nrules:\n  - match: \"*.o_proj.weight\"\n    min_snr_db: 38\n    keep_dtype: f16\n  - match: \"*.down_proj.weight\"\n    min_snr_db: 30\n    group_size: 8\n"))
        let oProj = try #require(plan.decision(for: "model.layers.0.self_attn.o_proj.weight"))
        #expect(oProj.minimumSNRDecibels == 38)
        #expect(oProj.fallbackGroupSize == 32)
        #expect(oProj.fallbackKeepDType == .f16)
        let down = try #require(plan.decision(for: "model.layers.0.mlp.down_proj.weight"))
        #expect(down.action == .quantize(.perChannel))
        #expect(down.fallbackGroupSize == 8)
        #expect(down.fallbackKeepDType == .bf16)
        #expect(plan.decision(for: "model.layers.0.mlp.up_proj.weight")?.minimumSNRDecibels == nil)
    }

    // MARK: Unused rules

    @Test func rulesThatMatchNothingAreListedWithAHint() throws {
        let plan = try QuantizationPlan(
            tensors: llamaTensors(),
            config: try config("rules:\n  - match: \"vision_tower.*\"\n    action: keep\n  - match: \"mlp\"\n    action: keep\n"),
            overrides: RuleOverrides(skipPatterns: ["lm_head"]))
        #expect(plan.unusedRules.map(\.rule.label) == [#"--skip "lm_head""#, #"rules.yaml:2 "vision_tower.*""#, #"rules.yaml:4 "mlp""#])
        #expect(plan.unusedRules[0].description == #"--skip "lm_head" matched no tensor (patterns match the whole name; "lm_head*" would match lm_head.weight)"#)
        #expect(plan.unusedRules[1].description == #"rules.yaml:2 "vision_tower.*" matched no tensor"#)
        #expect(plan.unusedRules[2].suggestion?.hasPrefix(#""*mlp*" would match model.layers.0.mlp."#) == true)
    }

    @Test func jsonAndYamlConfigsDecideAlike() throws {
        let yaml = try config("granularity: per-tensor\nrules:\n  - match: \"*.q_proj.weight\"\n    action: keep\n")
        let json = try config(#"{"granularity": "per-tensor", "rules": [{"match": "*.q_proj.weight", "action": "keep"}]}"#)
        let yamlPlan = QuantizationPlan(tensors: llamaTensors(), config: yaml)
        let jsonPlan = QuantizationPlan(tensors: llamaTensors(), config: json)
        #expect(yamlPlan.decisions.map(\.action) == jsonPlan.decisions.map(\.action))
    }
}
