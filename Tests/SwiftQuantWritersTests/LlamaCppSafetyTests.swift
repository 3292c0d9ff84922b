import Foundation
import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantKernels
@testable import SwiftQuantGGUF
@testable import SwiftQuantPlan
@testable import SwiftQuantConversion

/// A BERT-shaped source held in memory, with GGUF tensor names.
private struct BERTNamedSource: TensorSource {
    var path = "memory.gguf"
    var formatName = "GGUF"
    var tensors: [TensorInfo] = []
    var metadata: [String: MetadataValue] = [:]
    var storage: [String: OwnedBytes] = [:]

    init() {
        for (name, shape) in [
            ("token_embd.weight", [96, 64]), ("token_types.weight", [2, 64]), ("position_embd.weight", [32, 64]),
            ("token_embd_norm.weight", [64]), ("blk.0.attn_q.weight", [64, 64]), ("blk.0.ffn_up.weight", [128, 64]),
        ] {
            let count = shape.reduce(1, *)
            let floats = (0..<count).map { Float(sin(Double($0) * 0.37 + Double(name.utf8.count))) }
            tensors.append(TensorInfo(name: name, dtype: .f32, shape: shape, byteCount: count * 4))
            storage[name] = floats.withUnsafeBytes { OwnedBytes(copying: $0) }
        }
    }

    func data(for name: String) throws -> TensorData {
        guard let info = info(for: name), let owned = storage[name] else {
            throw TensorSourceError.noSuchTensor(path: path, name: name)
        }
        return TensorData(info: info, bytes: owned.bytes, owner: owned)
    }

    func floats(for name: String) throws -> [Float] {
        let data = try data(for: name)
        return decodeFloats(data.bytes, encoding: data.info.dtype.floatEncoding!)
    }
}

@Suite("GGUF output is safe for llama.cpp")
struct LlamaCppSafetyTests {
    /// Converts with `decisions` through a GGUFWriter and returns the stored type of each tensor.
    private func convert(_ source: BERTNamedSource, decisions: [TensorDecision]) throws -> (types: [String: DType], reports: [ConvertedTensorReport]) {
        let path = temporaryFolder() + "/out.gguf"
        let output = try AtomicOutputFile(destination: path, force: true)
        let writer = GGUFWriter(output: output, options: .init(architecture: "bert", name: "fixture"))
        let adapted = try decisions.adapted(to: writer, source: source, format: "GGUF")
        let reports = try Converter(source: source, decisions: adapted, sink: writer, metadata: [:]).run()
        try output.commit()
        let file = try GGUFFile(path: path)
        return (Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.dtype) }), reports)
    }

    @Test func aRuleForcingTokenTypesToQ8_0IsOverriddenWithANotice() throws {
        let source = BERTNamedSource()
        let config = try RulesConfig(text: "defaults: false\nrules:\n  - match: \"token_types.weight\"\n", path: "rules.yaml")
        let plan = QuantizationPlan(tensors: source.tensors, config: config, target: .gguf(architecture: "bert"))
        let decision = try #require(plan.decision(for: "token_types.weight"))
        #expect(decision.action == .keep(.source))
        #expect(decision.reason.contains("llama.cpp never quantizes"))
        #expect(decision.reason.contains(#"overrides rules.yaml:3 "token_types.weight""#))
        let (types, _) = try convert(source, decisions: plan.decisions)
        #expect(types["token_types.weight"] == .f32)
        #expect(types["blk.0.attn_q.weight"] == .q8_0)
    }

    @Test func decisionsMadeWithoutTheGGUFTargetAreMadeSafeByTheAdaptation() throws {
        // A library caller that plans for any format, with a hostile rule, then writes GGUF.
        let source = BERTNamedSource()
        let config = try RulesConfig(text: "defaults: false\nrules:\n  - match: \"*\"\n", path: "rules.yaml")
        let plan = QuantizationPlan(tensors: source.tensors, config: config)
        #expect(plan.decision(for: "token_types.weight")?.quantizes == true)
        let (types, reports) = try convert(source, decisions: plan.decisions)
        #expect(types["token_types.weight"] == .f32)
        #expect(types["position_embd.weight"] == .f32)
        #expect(types["token_embd_norm.weight"] == .f32)
        #expect(types["token_embd.weight"] == .q8_0)
        #expect(types["blk.0.ffn_up.weight"] == .q8_0)
        let report = try #require(reports.first { $0.name == "token_types.weight" })
        #expect(report.reason.hasPrefix("llama.cpp never quantizes"))
        #expect(report.reason.contains(#"overrides rules.yaml:3 "*""#))
    }
}

@Suite("GGUF keys restored from a checkpoint's source.* metadata")
struct RestoredGGUFKeysTests {
    @Test func aCheckpointFromGGUFGivesItsKeysBackAtLlamaCppWidths() throws {
        var source = BERTNamedSource()
        source.path = "model.swq"
        source.metadata = [
            "general.source_format": .string("gguf"),
            "source.general.architecture": .string("bert"),
            "source.general.name": .string("MiniLM"),
            "source.general.file_type": .uint(0),
            "source.bert.block_count": .uint(6),
            "source.bert.attention.layer_norm_epsilon": .float(Double(Float(1e-12))),
            "source.bert.attention.causal": .bool(false),
            "source.tokenizer.ggml.tokens": .array([.string("[PAD]"), .string("▁the")]),
            "source.tokenizer.ggml.token_type": .array([.int(3), .int(1)]),
            "source.tokenizer.ggml.scores": .array([.float(0), .float(-1.5)]),
            "source.big.count": .uint(1 << 40),
            "source.precise": .float(0.1),
            "swiftquant.rules": .string("{}"),
        ]
        let options = try GGUFWriter.Options.resolve(source: source, input: "model.swq", architecture: nil)
        #expect(options.architecture == "bert")
        #expect(options.name == "MiniLM")
        #expect(options.sourceFileType == 0)
        let entries = Dictionary(uniqueKeysWithValues: options.sourceEntries.map { ($0.key, $0) })
        // llama.cpp reads these keys as u32, f32, bool, string arrays, i32 arrays and f32 arrays.
        #expect(entries["bert.block_count"]?.type == .uint32)
        #expect(entries["bert.attention.layer_norm_epsilon"]?.type == .float32)
        #expect(entries["bert.attention.causal"]?.type == .bool)
        #expect(entries["tokenizer.ggml.tokens"]?.elementType == .string)
        #expect(entries["tokenizer.ggml.token_type"]?.elementType == .int32)
        #expect(entries["tokenizer.ggml.scores"]?.elementType == .float32)
        // Values that do not fit 32 bits keep 64.
        #expect(entries["big.count"]?.type == .uint64)
        #expect(entries["precise"]?.type == .float64)
        // The writer sets these itself; the checkpoint's own keys are not GGUF keys.
        #expect(entries["general.architecture"] == nil && entries["general.file_type"] == nil)
        #expect(entries["swiftquant.rules"] == nil)
    }

    @Test func otherCheckpointsGiveNoKeys() throws {
        var source = BERTNamedSource()
        source.metadata = ["general.source_format": .string("safetensors"), "source.format": .string("pt")]
        let options = try GGUFWriter.Options.resolve(source: source, input: "model.swq", architecture: "bert")
        #expect(options.sourceEntries.isEmpty)
    }
}
