import Foundation
import Testing
import SwiftQuant

/// all-MiniLM-L6-v2's weights (resolved by `TestModels`; throws, naming Tests/setup.sh, when absent).
var miniLMPath: String {
    get throws { try TestModels.miniLMSafeTensors }
}

/// MiniLM's tensor list, read from the safetensors header with plain JSON decoding, so the
/// test does not depend on our own reader.
func miniLMTensors() throws -> [TensorInfo] {
    let handle = try #require(FileHandle(forReadingAtPath: miniLMPath))
    defer { try? handle.close() }
    let lengthBytes = try #require(try handle.read(upToCount: 8))
    let length = lengthBytes.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try #require(try handle.read(upToCount: length))
    let object = try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])
    var tensors: [(offset: Int, info: TensorInfo)] = []
    for (name, value) in object where name != "__metadata__" {
        let entry = try #require(value as? [String: Any])
        let dtypeName = try #require(entry["dtype"] as? String)
        let dtype = try #require(DType(rawValue: dtypeName))
        let shape = try #require(entry["shape"] as? [Int])
        let offsets = try #require(entry["data_offsets"] as? [Int])
        tensors.append((offsets[0], TensorInfo(name: name, dtype: dtype, shape: shape, byteCount: offsets[1] - offsets[0])))
    }
    return tensors.sorted { $0.offset < $1.offset }.map(\.info)
}

func sampleConfig(_ name: String) throws -> RulesConfig {
    try RulesConfig.load(path: TestModels.sample(name))
}

@Suite("MiniLM names and the sample configs")
struct RealNameSetTests {
    static let projections = [
        "attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
        "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight",
    ]

    @Test func defaultsOnMiniLM() throws {
        let tensors = try miniLMTensors()
        #expect(tensors.count == 104)
        let plan = QuantizationPlan(tensors: tensors)
        #expect(plan.lastBlockIndex == 5)
        let quantized = Set(plan.decisions.filter(\.quantizes).map(\.tensor.name))
        let expected = Set((0..<6).flatMap { block in Self.projections.map { "encoder.layer.\(block).\($0)" } })
            .union(["pooler.dense.weight"])
        #expect(quantized == expected)
        #expect(plan.reason("embeddings.word_embeddings.weight") == #"default: name contains "embed""#)
        #expect(plan.reason("embeddings.position_ids") == "default: not float (I64)")
        #expect(plan.reason("embeddings.LayerNorm.weight") == "default: 1-D")
        #expect(plan.reason("encoder.layer.3.output.LayerNorm.bias") == "default: 1-D")
        #expect(plan.decisions.filter(\.quantizes).allSatisfy { $0.action == .quantize(.perChannel) })
    }

    @Test func firstAndLastLayersOfMiniLM() throws {
        let plan = QuantizationPlan(
            tensors: try miniLMTensors(),
            config: try config("rules:\n  - match: \"encoder.*.weight\"\n    layers: [0, -1]\n    action: keep\n    keep_dtype: f16\n"))
        for block in 0..<6 {
            let action = plan.action("encoder.layer.\(block).intermediate.dense.weight")
            #expect(action == (block == 0 || block == 5 ? .keep(.f16) : .quantize(.perChannel)))
        }
        #expect(plan.unusedRules.isEmpty)
    }

    @Test func bertSampleOnMiniLM() throws {
        let plan = QuantizationPlan(tensors: try miniLMTensors(), config: try sampleConfig("rules-bert.yaml"))
        #expect(plan.unusedRules.isEmpty)
        #expect(plan.action("pooler.dense.weight") == .keep(.source))
        #expect(plan.action("encoder.layer.2.output.dense.weight") == .quantize(.perGroup(size: 128)))
        // The regex does not catch the attention output, which the glob would have.
        #expect(plan.action("encoder.layer.2.attention.output.dense.weight") == .quantize(.perChannel))
        let query = try #require(plan.decision(for: "encoder.layer.4.attention.self.query.weight"))
        #expect(query.minimumSNRDecibels == 40)
        #expect(query.fallbackKeepDType == .f16)
        #expect(query.reason.hasSuffix(#" "encoder.layer.*.attention.self.query.weight""#))
        #expect(plan.action("embeddings.word_embeddings.weight") == .keep(.source))
    }

    @Test func defaultsSampleEqualsNoConfig() throws {
        let sample = try sampleConfig("rules-defaults.yaml")
        for tensors in [try miniLMTensors(), llamaTensors()] {
            let withSample = QuantizationPlan(tensors: tensors, config: sample)
            let without = QuantizationPlan(tensors: tensors)
            #expect(withSample.decisions.map(\.action) == without.decisions.map(\.action))
            #expect(withSample.decisions.map(\.reason) == without.decisions.map(\.reason))
        }
    }

    @Test func llamaSampleOnALlamaNameSet() throws {
        let plan = QuantizationPlan(tensors: llamaTensors(blocks: 8), config: try sampleConfig("rules-llama.yaml"))
        #expect(plan.unusedRules.isEmpty)
        #expect(plan.action("model.layers.0.mlp.up_proj.weight") == .keep(.f16))
        #expect(plan.action("model.layers.7.self_attn.q_proj.weight") == .keep(.f16))
        #expect(plan.action("model.layers.3.mlp.gate_proj.weight") == .quantize(.perGroup(size: 64)))
        #expect(plan.action("model.layers.3.mlp.down_proj.weight") == .quantize(.perChannel))
        #expect(plan.decision(for: "model.layers.3.self_attn.o_proj.weight")?.minimumSNRDecibels == 38)
        #expect(plan.action("lm_head.weight") == .keep(.source))
        #expect(plan.action("model.embed_tokens.weight") == .keep(.source))
    }
}
