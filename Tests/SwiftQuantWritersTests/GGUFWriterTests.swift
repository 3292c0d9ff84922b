import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantGGUF

/// A source held in memory, for tensors no real file has (odd row lengths, 5-D, U8).
private struct MemorySource: TensorSource {
    var path = "memory.safetensors"
    var formatName = "safetensors"
    var tensors: [TensorInfo] = []
    var metadata: [String: MetadataValue] = [:]
    var storage: [String: OwnedBytes] = [:]

    mutating func add(_ name: String, _ shape: [Int], _ dtype: DType, bytes: [UInt8]) {
        tensors.append(TensorInfo(name: name, dtype: dtype, shape: shape, byteCount: bytes.count))
        storage[name] = bytes.withUnsafeBytes { OwnedBytes(copying: $0) }
    }

    mutating func add(_ name: String, _ shape: [Int], floats: [Float]) {
        add(name, shape, .f32, bytes: floats.withUnsafeBytes { Array($0) })
    }

    func data(for name: String) throws -> TensorData {
        guard let info = info(for: name), let owned = storage[name] else {
            throw TensorSourceError.noSuchTensor(path: path, name: name)
        }
        return TensorData(info: info, bytes: owned.bytes, owner: owned)
    }

    func floats(for name: String) throws -> [Float] {
        let data = try data(for: name)
        guard let encoding = data.info.dtype.floatEncoding else {
            throw TensorSourceError.notDecodable(path: path, name: name, dtype: data.info.dtype)
        }
        return decodeFloats(data.bytes, encoding: encoding)
    }
}

private var modelFolder: String {
    get throws { try TestModels.miniLM }
}

/// Converts `source` to GGUF at `path` with the default rules, adapted to what GGUF stores;
/// returns the writer and reports.
@discardableResult
private func convertToGGUF(
    _ source: any TensorSource, to path: String, options: GGUFWriter.Options? = nil,
    metadata: [String: MetadataValue] = ["general.tool": .string("swiftquant test")]
) throws -> (writer: GGUFWriter, reports: [ConvertedTensorReport]) {
    let output = try AtomicOutputFile(destination: path, force: true)
    let writer = GGUFWriter(output: output, options: options ?? .init(architecture: "test", name: "fixture"))
    let plan = QuantizationPlan(tensors: source.tensors)
    let decisions = try plan.decisions.adapted(to: writer, source: source, format: "gguf")
    let reports = try Converter(source: source, decisions: decisions, sink: writer, metadata: metadata).run()
    try output.commit()
    return (writer, reports)
}

/// A tensor's stored bytes, copied while the data (and its map) is alive.
private func storedBytes(_ name: String, in source: any TensorSource) throws -> [UInt8] {
    let data = try source.data(for: name)
    return withExtendedLifetime(data) { Array(data.bytes) }
}

private func q8_0(_ weights: [Float]) throws -> [UInt8] {
    var blocks = [UInt8](repeating: 0, count: weights.count / 32 * 34)
    try weights.withUnsafeBufferPointer { input in try blocks.withUnsafeMutableBytes { try quantizeQ8_0(input, into: $0) } }
    return blocks
}

@Suite(.tags(.slow)) struct GGUFWriterTests {
    @Test func miniLMConvertsToGGUFThatReadsBack() throws {
        let source = try openTensorSource(at: modelFolder + "/model.safetensors")
        let path = temporaryFolder() + "/minilm.gguf"
        let options = try GGUFWriter.Options.resolve(source: source, input: source.path, architecture: nil)
        #expect(options.architecture == "bert")  // config.json's model_type
        #expect(options.name == "all-MiniLM-L6-v2")  // the folder: model.safetensors is generic
        let (_, reports) = try convertToGGUF(source, to: path, options: options)

        let gguf = try GGUFFile(path: path)
        #expect(gguf.tensors.map(\.name) == source.tensors.map(\.name))
        var q8Count = 0
        for (tensor, report) in zip(gguf.tensors, reports) {
            let original = try #require(source.info(for: tensor.name))
            #expect(tensor.shape == original.shape)
            #expect((tensor.dtype == .q8_0) == (report.scheme == .q8_0))
            let stored = (try storedBytes(tensor.name, in: gguf))
            if tensor.dtype == .q8_0 {
                q8Count += 1
                #expect(stored == (try q8_0(source.floats(for: tensor.name))), "\(tensor.name)")
            } else {
                #expect(stored == (try storedBytes(tensor.name, in: source)), "\(tensor.name) kept")
            }
        }
        #expect(q8Count == reports.filter { $0.metrics != nil }.count)
        #expect(q8Count > 30)
        for report in reports where report.metrics != nil {
            #expect(report.action == .quantize(.perGroup(size: 32)))
            #expect(report.scheme == .q8_0)
            // Q8_0 on MiniLM: blocks of 32 beat per-channel's 33.5 dB minimum comfortably.
            #expect(report.metrics!.snrDecibels > 38)
        }

        #expect(gguf.metadata["general.architecture"] == .string("bert"))
        #expect(gguf.metadata["general.name"] == .string("all-MiniLM-L6-v2"))
        #expect(gguf.metadata["general.tool"] == .string("swiftquant test"))
        let types = Dictionary(uniqueKeysWithValues: gguf.entries.map { ($0.key, $0.type) })
        #expect(types["general.file_type"] == .uint32 && gguf.metadata["general.file_type"] == .uint(7))
        #expect(types["general.quantization_version"] == .uint32 && gguf.metadata["general.quantization_version"] == .uint(2))
        #expect(types["general.alignment"] == .uint32 && gguf.metadata["general.alignment"] == .uint(32))
        #expect(gguf.entries.first?.key == "general.architecture")
        // Every tensor, the last one too, is padded to the alignment, as ggml reads it.
        #expect(fileBytes(path).count % 32 == 0)
    }

    @Test func oddRowsFallBackToF16AndOtherTypesAreKept() throws {
        var source = MemorySource()
        let odd = pseudoRandomFloats(24 * 48, seed: 2)
        let even = pseudoRandomFloats(16 * 64, seed: 3)
        let bf16: [UInt16] = pseudoRandomFloats(64, seed: 4).map { UInt16($0.bitPattern >> 16) }
        source.add("layer.odd.weight", [24, 48], floats: odd)
        source.add("layer.even.weight", [16, 64], floats: even)
        source.add("layer.norm.weight", [64], .bf16, bytes: bf16.withUnsafeBytes { Array($0) })
        source.add("position_ids", [1, 7], .i64, bytes: (0..<7).map { Int64($0) }.withUnsafeBytes { Array($0) })
        source.add("mask", [3], .i8, bytes: [1, 0, 255])
        source.add("empty.weight", [0, 64], floats: [])
        let path = temporaryFolder() + "/odd.gguf"
        let (_, reports) = try convertToGGUF(source, to: path)

        let gguf = try GGUFFile(path: path)
        #expect(gguf.tensors.map(\.dtype) == [.f16, .q8_0, .bf16, .i64, .i8, .f32])
        let expectedHalves = odd.map { Float16($0).bitPattern }.withUnsafeBytes { Array($0) }
        #expect((try storedBytes("layer.odd.weight", in: gguf)) == expectedHalves)
        #expect((try storedBytes("layer.even.weight", in: gguf)) == (try q8_0(even)))
        #expect((try storedBytes("mask", in: gguf)) == [1, 0, 255])
        #expect(try gguf.floats(for: "empty.weight").isEmpty)
        #expect(gguf.info(for: "position_ids")?.shape == [1, 7])

        let oddReport = try #require(reports.first { $0.name == "layer.odd.weight" })
        #expect(oddReport.action == .keep(.f16))
        #expect(oddReport.metrics == nil)
        #expect(oddReport.note?.contains("F16") == true && oddReport.note?.contains("48") == true)
        // The Q8_0 error is measured against the weights, with d as stored (fp16).
        let evenReport = try #require(reports.first { $0.name == "layer.even.weight" })
        let restored = try gguf.floats(for: "layer.even.weight")
        let maxError = zip(even, restored).map { abs($0 - $1) }.max()!
        #expect(evenReport.metrics?.maxAbsError == maxError)
    }

    @Test func refusesSymmetricInt8AndStoresQ8_0AsGiven() throws {
        let weights = pseudoRandomFloats(8 * 64, seed: 8)
        let int8 = try quantizeSymmetric(FloatTensor(shape: [8, 64], storage: weights), granularity: .perChannel)
        let path = temporaryFolder() + "/export.gguf"
        let output = try AtomicOutputFile(destination: path, force: true)
        let writer = GGUFWriter(output: output, options: .init(architecture: "test", name: "export"))
        #expect(!writer.canStore(.symmetricInt8(.perChannel)) && writer.canStore(.q8_0))
        #expect(writer.storedScheme(forPlanned: .perTensor) == .q8_0)
        try writer.begin(tensors: [TensorInfo(name: "w", dtype: .f32, shape: [8, 64], byteCount: 2048)], metadata: [:])
        let refused = TensorWriterError.unsupportedScheme(tensor: "w", scheme: .symmetricInt8(.perChannel), format: "GGUF")
        #expect(throws: refused) {
            try writer.write(ConvertedTensor(name: "w", shape: [8, 64], sourceDType: .f32, content: .quantized(int8, metrics: nil)))
        }
        #expect(refused.description.contains("symmetric INT8 per-channel") && refused.description.contains("GGUF"))
        // The Q8_0 weight is written as ggml blocks, byte for byte what gguf-py's layout is.
        let q8 = try Q8_0().quantize(FloatTensor(shape: [8, 64], storage: weights))
        try writer.write(ConvertedTensor(name: "w", shape: [8, 64], sourceDType: .f32, content: .quantized(q8, metrics: nil)))
        try writer.finish()
        try output.commit()
        let gguf = try GGUFFile(path: path)
        #expect((try storedBytes("w", in: gguf)) == (try q8_0(weights)))
        // …and reads back as the same weight: codes and the widened fp16 d.
        #expect(try gguf.quantizedWeight(for: "w") == q8)
    }

    @Test func ggufSourceKeepsItsTypedMetadataAndBlockTypes() throws {
        // First a GGUF with hyperparameters of several types and a Q4_K tensor kept as stored.
        let folder = temporaryFolder()
        var source = MemorySource()
        source.add("blk.0.attn_q.weight", [32, 64], floats: pseudoRandomFloats(32 * 64, seed: 6))
        source.add("blk.0.q4k", [2, 256], .q4_K, bytes: [UInt8](repeating: 7, count: 288))
        let first = folder + "/first.gguf"
        let entries = [
            GGUFMetadataEntry(key: "llama.context_length", type: .uint32, value: .uint(2048)),
            GGUFMetadataEntry(key: "llama.rope.freq_base", type: .float32, value: .float(10000)),
            GGUFMetadataEntry(key: "tokenizer.ggml.tokens", type: .array, elementType: .string, value: .array([.string("<s>"), .string("é")])),
            GGUFMetadataEntry(key: "general.file_type", type: .uint32, value: .uint(15)),
        ]
        try convertToGGUF(source, to: first, options: .init(architecture: "llama", name: "first", sourceEntries: entries))

        // Then GGUF in, GGUF out: the typed entries survive, the reserved keys are rewritten.
        let gguf = try GGUFFile(path: first)
        #expect(gguf.info(for: "blk.0.q4k")?.dtype == .q4_K)
        let options = try GGUFWriter.Options.resolve(source: gguf, input: first, architecture: nil)
        #expect(options.architecture == "llama" && options.name == "first")
        #expect(!options.sourceEntries.contains { GGUFWriter.reservedKeys.contains($0.key) })
        let second = folder + "/second.gguf"
        try convertToGGUF(gguf, to: second, options: options, metadata: ["source.general.name": .string("first")])
        let again = try GGUFFile(path: second)
        for key in ["llama.context_length", "llama.rope.freq_base", "tokenizer.ggml.tokens"] {
            let before = gguf.entries.first { $0.key == key }
            #expect(before != nil && again.entries.first { $0.key == key } == before, "\(key)")
        }
        #expect((try storedBytes("blk.0.q4k", in: again)) == [UInt8](repeating: 7, count: 288))
        #expect(again.metadata["general.file_type"] == .uint(7))
        #expect(again.metadata["source.general.name"] == nil, "a GGUF source's keys are not repeated as source.*")
        #expect(again.entries.filter { $0.key == "general.architecture" }.count == 1)
    }

    @Test func sourceFileTypeIsKeptWhenNothingBecomesQ8_0() throws {
        var source = MemorySource()
        source.add("blk.0.q4k", [2, 256], .q4_K, bytes: [UInt8](repeating: 0, count: 288))
        let path = temporaryFolder() + "/q4k.gguf"
        try convertToGGUF(source, to: path, options: .init(architecture: "llama", name: "q4k", sourceFileType: 15))
        #expect(try GGUFFile(path: path).metadata["general.file_type"] == .uint(15))
    }

    @Test func outputDoesNotDependOnTheThreadCount() throws {
        var source = MemorySource()
        source.add("a.weight", [256, 512], floats: pseudoRandomFloats(256 * 512, seed: 21))
        source.add("b.weight", [100, 96], floats: pseudoRandomFloats(100 * 96, seed: 22))
        let folder = temporaryFolder()
        try Parallelism.withThreads(1) { try convertToGGUF(source, to: folder + "/one.gguf") }
        try Parallelism.withThreads(2) { try convertToGGUF(source, to: folder + "/two.gguf") }
        #expect(fileBytes(folder + "/one.gguf") == fileBytes(folder + "/two.gguf"))
    }

    @Test func tensorsGGUFCannotHoldAreRefusedBeforeAnythingIsWritten() throws {
        let cases: [(MemorySource, String)] = {
            var long = MemorySource()
            long.add(String(repeating: "n", count: 64), [2, 32], floats: [Float](repeating: 1, count: 64))
            var fiveD = MemorySource()
            fiveD.add("w", [1, 1, 1, 2, 32], floats: [Float](repeating: 1, count: 64))
            var unsigned = MemorySource()
            unsigned.add("ids", [4], .u8, bytes: [1, 2, 3, 4])
            return [(long, "tensorNameTooLong"), (fiveD, "tooManyDimensions"), (unsigned, "unsupportedDType")]
        }()
        for (source, expected) in cases {
            let path = temporaryFolder() + "/refused.gguf"
            do {
                try convertToGGUF(source, to: path)
                Issue.record("\(expected): converted")
            } catch let error as GGUFWriterError {
                #expect(Mirror(reflecting: error).children.first?.label == expected)
                #expect(!error.description.contains("\n"))
            }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func architectureComesFromArchConfigOrAClearError() throws {
        let folder = temporaryFolder()
        let model = folder + "/model.safetensors"
        let source = MemorySource(path: model)
        // No config.json: a clear error that names --arch.
        #expect(throws: GGUFWriterError.unknownArchitecture(input: model)) {
            try GGUFWriter.Options.resolve(source: source, input: model, architecture: nil)
        }
        #expect(try GGUFWriter.Options.resolve(source: source, input: model, architecture: "llama").architecture == "llama")
        #expect(throws: GGUFWriterError.invalidArchitecture("lla ma")) {
            try GGUFWriter.Options.resolve(source: source, input: model, architecture: "lla ma")
        }
        // config.json beside the input; --arch still wins.
        try Data(#"{"model_type": "qwen2", "hidden_size": 8}"#.utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        #expect(try GGUFWriter.Options.resolve(source: source, input: model, architecture: nil).architecture == "qwen2")
        #expect(try GGUFWriter.Options.resolve(source: source, input: folder, architecture: nil).architecture == "qwen2")
        #expect(try GGUFWriter.Options.resolve(source: source, input: model, architecture: "llama").architecture == "llama")
        // A broken config.json is named, not ignored.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        do {
            _ = try GGUFWriter.Options.resolve(source: source, input: model, architecture: nil)
            Issue.record("broken config.json accepted")
        } catch let error as GGUFWriterError {
            guard case .unreadableConfig(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path.hasSuffix("config.json"))
        }
    }

    @Test func modelNames() {
        typealias Options = GGUFWriter.Options
        #expect(Options.modelName(forInput: "/models/llama-7b/model.safetensors") == "llama-7b")
        #expect(Options.modelName(forInput: "/models/llama-7b/model-00001-of-00002.safetensors") == "llama-7b")
        #expect(Options.modelName(forInput: "/models/llama-7b/model.safetensors.index.json") == "llama-7b")
        #expect(Options.modelName(forInput: "/models/tiny-F32.safetensors") == "tiny-F32")
    }

    @Test func metadataValuesGetGGUFTypes() {
        #expect(GGUFMetadataEntry(key: "k", converting: .string("s")).type == .string)
        #expect(GGUFMetadataEntry(key: "k", converting: .int(-1)).type == .int64)
        #expect(GGUFMetadataEntry(key: "k", converting: .uint(1)).type == .uint64)
        #expect(GGUFMetadataEntry(key: "k", converting: .float(0.5)).type == .float64)
        let array = GGUFMetadataEntry(key: "k", converting: .array([.int(1), .int(2)]))
        #expect(array.type == .array && array.elementType == .int64)
        // GGUF has no mixed or nested arrays: those are kept as JSON text.
        #expect(GGUFMetadataEntry(key: "k", converting: .array([.int(1), .string("a")])).value == .string("[1,\"a\"]"))
        #expect(GGUFMetadataEntry(key: "k", converting: .array([.array([])])).type == .string)
    }
}
