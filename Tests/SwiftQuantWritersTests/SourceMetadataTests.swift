import Foundation
import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantKernels
@testable import SwiftQuantGGUF
@testable import SwiftQuantCheckpoint
@testable import SwiftQuantPlan
@testable import SwiftQuantConversion

/// A source of kept-only tensors held in memory: 1-D tensors, which the default rules keep,
/// so a checkpoint made from it can be converted again (quantized tensors cannot).
private struct KeptSource: TensorSource {
    var path = "memory.gguf"
    var formatName = "gguf"
    var tensors: [TensorInfo] = []
    var metadata: [String: MetadataValue] = [:]
    var storage: [String: OwnedBytes] = [:]

    mutating func add(_ name: String, floats: [Float]) {
        let bytes = floats.withUnsafeBytes { Array($0) }
        tensors.append(TensorInfo(name: name, dtype: .f32, shape: [floats.count], byteCount: bytes.count))
        storage[name] = bytes.withUnsafeBytes { OwnedBytes(copying: $0) }
    }

    func data(for name: String) throws -> TensorData {
        guard let info = info(for: name), let owned = storage[name] else {
            throw TensorSourceError.noSuchTensor(path: path, name: name)
        }
        return TensorData(info: info, bytes: owned.bytes, owner: owned)
    }

    func floats(for name: String) throws -> [Float] {
        decodeFloats(try data(for: name).bytes, encoding: .float32)
    }
}

/// Runs the default plan over `source` into `sink` and commits `output`.
private func convert(
    _ source: any TensorSource, sink: any TensorWriter, output: AtomicOutputFile, metadata: [String: MetadataValue]
) throws {
    let plan = QuantizationPlan(tensors: source.tensors)
    _ = try Converter(source: source, decisions: plan.decisions, sink: sink, metadata: metadata).run()
    try output.commit()
}

@Suite struct SourceMetadataTests {
    /// GGUF → .swq → GGUF: every metadata key of the GGUF source arrives in the checkpoint as
    /// `source.<key>` with the same value and the same kind of value (not only the strings),
    /// and survives the way back into GGUF.
    @Test func ggufMetadataSurvivesCheckpointAndBackWithTypes() throws {
        let folder = temporaryFolder()
        var memory = KeptSource()
        memory.add("output_norm.weight", floats: pseudoRandomFloats(64, seed: 11))
        let typed = [
            GGUFMetadataEntry(key: "llama.context_length", type: .uint32, value: .uint(2048)),
            GGUFMetadataEntry(key: "llama.rope.dimension_count", type: .int32, value: .int(-128)),
            GGUFMetadataEntry(key: "llama.rope.freq_base", type: .float32, value: .float(10000.5)),
            GGUFMetadataEntry(key: "llama.attention.layer_norm_rms_epsilon", type: .float64, value: .float(1e-6)),
            GGUFMetadataEntry(key: "tokenizer.ggml.add_bos_token", type: .bool, value: .bool(true)),
            GGUFMetadataEntry(key: "tokenizer.ggml.model", type: .string, value: .string("llama")),
            GGUFMetadataEntry(key: "tokenizer.ggml.tokens", type: .array, elementType: .string,
                              value: .array([.string("<s>"), .string("é"), .string("e\u{301}")])),
            GGUFMetadataEntry(key: "tokenizer.ggml.token_type", type: .array, elementType: .int32,
                              value: .array([.int(1), .int(-3), .int(6)])),
        ]
        let first = folder + "/first.gguf"
        let firstOutput = try AtomicOutputFile(destination: first, force: true)
        try convert(memory, sink: GGUFWriter(output: firstOutput, options: .init(architecture: "llama", name: "m", sourceEntries: typed)),
                    output: firstOutput, metadata: [:])
        let gguf = try GGUFFile(path: first)
        #expect(gguf.metadata.count >= typed.count + 5)

        let checkpointPath = folder + "/model.swq"
        let checkpointOutput = try AtomicOutputFile(destination: checkpointPath, force: true)
        let metadata = Converter.standardMetadata(source: gguf, rulesJSON: "{}", compression: "zstd-1", toolVersion: "test")
        try convert(gguf, sink: CheckpointWriter(output: checkpointOutput), output: checkpointOutput, metadata: metadata)
        let checkpoint = try CheckpointFile(path: checkpointPath)
        for (key, value) in gguf.metadata {
            #expect(checkpoint.metadata["source." + key] == value, "source.\(key) in the checkpoint")
        }

        let second = folder + "/second.gguf"
        let secondOutput = try AtomicOutputFile(destination: second, force: true)
        try convert(checkpoint, sink: GGUFWriter(output: secondOutput, options: .init(architecture: "llama", name: "m")),
                    output: secondOutput, metadata: checkpoint.metadata)
        let again = try GGUFFile(path: second)
        for (key, value) in gguf.metadata {
            #expect(again.metadata["source." + key] == value, "source.\(key) in the second GGUF")
        }
    }
}
