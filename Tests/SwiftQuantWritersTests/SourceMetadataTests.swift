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
        add(name, .f32, count: floats.count, bytes: floats.withUnsafeBytes { Array($0) })
    }

    mutating func add(_ name: String, _ dtype: DType, count: Int, bytes: [UInt8]) {
        tensors.append(TensorInfo(name: name, dtype: dtype, shape: [count], byteCount: bytes.count))
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

    /// Specs/gguf-support.md: the five standard keys in a fixed order, then a GGUF source's
    /// entries in its order, then the converter's keys sorted by their UTF-8 bytes.
    @Test func ggufMetadataOrderIsStandardKeysThenSortedKeys() throws {
        var memory = KeptSource()
        memory.add("norm.weight", floats: [1, 2, 3, 4])
        let path = temporaryFolder() + "/order.gguf"
        let output = try AtomicOutputFile(destination: path, force: true)
        let metadata: [String: MetadataValue] = [
            "source.z": .string("z"), "general.tool": .string("t"), "source.\u{E9}": .string("é"), "source.f": .string("f"),
            "swiftquant.compression": .string("zstd-1"),
        ]
        try convert(memory, sink: GGUFWriter(output: output, options: .init(architecture: "llama", name: "m")),
                    output: output, metadata: metadata)
        let keys = try GGUFFile(path: path).entries.map(\.key)
        let standard = ["general.architecture", "general.name", "general.file_type", "general.quantization_version", "general.alignment"]
        #expect(Array(keys.prefix(5)) == standard)
        let rest = Array(keys.dropFirst(5))
        #expect(rest == rest.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(Set(rest) == Set(metadata.keys).subtracting(["swiftquant.compression"]))
    }

    /// `general.file_type` from the float type with the most elements; a tie goes to the
    /// lower ggml type number (F16 = 1 before BF16 = 30), whatever the hash order.
    @Test func ggufFileTypeTieIsDeterministic() throws {
        for round in 0..<4 {
            var memory = KeptSource()
            let halves = [UInt8](repeating: 0, count: 128)
            memory.add("a\(round)", .bf16, count: 64, bytes: halves)
            memory.add("b\(round)", .f16, count: 64, bytes: halves)
            let path = temporaryFolder() + "/tie\(round).gguf"
            let output = try AtomicOutputFile(destination: path, force: true)
            try convert(memory, sink: GGUFWriter(output: output, options: .init(architecture: "llama", name: "m")),
                        output: output, metadata: [:])
            #expect(try GGUFFile(path: path).metadata["general.file_type"] == .uint(1))
        }
    }
}
