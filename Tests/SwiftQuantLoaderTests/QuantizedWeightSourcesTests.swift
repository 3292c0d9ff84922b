import Foundation
import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantKernels
@testable import SwiftQuantSafeTensors
@testable import SwiftQuantGGUF
@testable import SwiftQuantCheckpoint
@testable import SwiftQuantPlan
@testable import SwiftQuantConversion
@testable import SwiftQuantNN

/// One QuantizedWeight through every writer and reader, and layers loaded from any source.
@Suite("Quantized weights through writers and readers")
struct QuantizedWeightSourcesTests {
    /// The checkpoint fixture exported with the int8 safetensors layout.
    private func exportInt8(_ checkpoint: CheckpointFile) throws -> String {
        let path = temporaryFolder() + "/int8.safetensors"
        let output = try AtomicOutputFile(destination: path, force: true)
        let writer = SafeTensorsWriter(output: output, layout: .int8)
        try writer.begin(tensors: checkpoint.tensors, metadata: [:])
        for info in checkpoint.tensors {
            if let weight = try checkpoint.quantizedWeight(for: info.name) {
                try writer.write(ConvertedTensor(
                    name: info.name, shape: info.shape, sourceDType: .f32, content: .quantized(weight, metrics: nil)))
            } else {
                let data = try checkpoint.data(for: info.name)
                try data.shared.withUnsafeBytes { bytes in
                    try writer.write(ConvertedTensor(
                        name: info.name, shape: info.shape, sourceDType: .f32, content: .kept(dtype: info.dtype, bytes: bytes)))
                }
            }
        }
        try writer.finish()
        try output.commit()
        return path
    }

    @Test("The int8 safetensors layout reads back as the same weights, and its layers run like the checkpoint's",
          arguments: [nil, Int32(1)])
    func safeTensorsInt8LayersMatchTheCheckpoint(compressionLevel: Int32?) throws {
        let tensors = try CheckpointLoadingTests.fixture()
        let checkpoint = try CheckpointFile(path: try writeTestCheckpoint(tensors, compressionLevel: compressionLevel))
        let exported = try SafeTensorsFile(path: try exportInt8(checkpoint))
        for tensor in tensors {
            let fromCheckpoint = try checkpoint.quantizedWeight(for: tensor.name)
            let fromSafeTensors = try exported.quantizedWeight(for: tensor.name)
            #expect(fromSafeTensors == fromCheckpoint, "\(tensor.name)")
            #expect(fromSafeTensors?.granularity == tensor.quantized?.granularity, "\(tensor.name)")
        }
        // The scale tensors themselves are plain floats.
        #expect(try exported.quantizedWeight(for: "block.dense.weight_scale") == nil)
        for name in ["block.dense", "block.grouped", "block.tensorwise"] {
            let a = try checkpoint.quantizedLinear(name), b = try exported.quantizedLinear(name)
            let x = randomTensor([3, a.inFeatures], seed: 21)
            #expect(try a(x) == b(x), "\(name)")
            #expect(try exported.linearLayer(name) is QuantizedLinear)
        }
        #expect(try exported.linearLayer("block.kept") is Linear)
        #expect(throws: LayerLoadingError.notQuantized(path: exported.path, tensor: "block.kept.weight")) {
            try exported.quantizedLinear("block.kept")
        }
    }

    @Test("Raw checkpoint codes are a view into the map; compressed ones are decoded", arguments: [nil, Int32(1)])
    func rawCodesAreZeroCopy(compressionLevel: Int32?) throws {
        let tensors = try CheckpointLoadingTests.fixture()
        let checkpoint = try CheckpointFile(path: try writeTestCheckpoint(tensors, compressionLevel: compressionLevel))
        var viewed = 0
        for entry in checkpoint.entries where entry.quantization != nil {
            let weight = try #require(try checkpoint.quantizedWeight(for: entry.name))
            // zstd keeps a chunk raw when it does not shrink, so the codec decides, not the level.
            #expect((weight.codes.owner is MappedFile) == (entry.values.codec == .raw), "\(entry.name)")
            if weight.codes.owner is MappedFile { viewed += 1 }
        }
        if compressionLevel == nil { #expect(viewed == 5) }
    }

    @Test("The checkpoint writer refuses Q8_0 with a clear error")
    func checkpointRefusesQ8_0() throws {
        let output = try AtomicOutputFile(destination: temporaryFolder() + "/q8.swq", force: true)
        defer { output.discard() }
        let writer = CheckpointWriter(output: output)
        #expect(writer.canStore(.symmetricInt8(.perGroup(size: 64))) && !writer.canStore(.q8_0))
        let q8 = try Q8_0().quantize(randomTensor([4, 64], seed: 5))
        try writer.begin(tensors: [TensorInfo(name: "w", dtype: .f32, shape: [4, 64], byteCount: 1024)], metadata: [:])
        let error = TensorWriterError.unsupportedScheme(tensor: "w", scheme: .q8_0, format: "SwiftQuant checkpoint")
        #expect(throws: error) {
            try writer.write(ConvertedTensor(name: "w", shape: [4, 64], sourceDType: .f32, content: .quantized(q8, metrics: nil)))
        }
        #expect(error.description.contains("Q8_0") && error.description.contains("SwiftQuant checkpoint"))
    }

    @Test("min_snr_db judges the scheme the file stores: Q8_0's error, not INT8's")
    func minimumSNRJudgesQ8_0() throws {
        let weights = randomTensor([8, 64], seed: 9)
        let info = TensorInfo(name: "w", dtype: .f32, shape: [8, 64], byteCount: 2048)
        let q8 = try Q8_0().quantize(weights)
        let q8Metrics = Q8_0().errorMetrics(of: q8, original: weights)
        // Dequantized as ggml does: q × d with d from fp16.
        let restored = dequantize(q8).storage
        #expect(q8Metrics.maxAbsError == zip(weights.storage, restored).map { abs($0 - $1) }.max())
        let passing = TensorDecision(tensor: info, action: .quantize(.perChannel), reason: "test", minimumSNRDecibels: q8Metrics.snrDecibels)
        let resolved = try resolve(passing, weights: weights, storing: { _ in .q8_0 })
        #expect(resolved.quantized == q8 && resolved.metrics == q8Metrics)
        #expect(resolved.attempts.map(\.scheme) == [.q8_0])
        // Above Q8_0's SNR: per group stores the same Q8_0, so the fallback goes straight to keep.
        let failing = TensorDecision(tensor: info, action: .quantize(.perChannel), reason: "test", minimumSNRDecibels: q8Metrics.snrDecibels + 1)
        let kept = try resolve(failing, weights: weights, storing: { _ in .q8_0 })
        #expect(kept.action == .keep(.source) && kept.attempts.count == 1)
        #expect(kept.note?.hasPrefix("q8_0 SNR") == true)
    }

    @Test("A GGUF Q8_0 tensor loads as a per-group(32) layer that runs q × d")
    func ggufQ8_0Layer() throws {
        let weights = randomTensor([4, 64], seed: 13)
        let path = temporaryFolder() + "/layer.gguf"
        let output = try AtomicOutputFile(destination: path, force: true)
        let writer = GGUFWriter(output: output, options: .init(architecture: "test", name: "layer"))
        try writer.begin(tensors: [TensorInfo(name: "l.weight", dtype: .f32, shape: [4, 64], byteCount: 1024)], metadata: [:])
        try writer.write(ConvertedTensor(
            name: "l.weight", shape: [4, 64], sourceDType: .f32, content: .quantized(try Q8_0().quantize(weights), metrics: nil)))
        try writer.finish()
        try output.commit()
        let gguf = try GGUFFile(path: path)
        let layer = try gguf.quantizedLinear("l")
        #expect(layer.granularity == .perGroup(size: 32))
        let x = randomTensor([2, 64], seed: 14)
        let reference = try Linear(weight: FloatTensor(shape: [4, 64], storage: try gguf.floats(for: "l.weight")), bias: nil)
        let (a, b) = (try layer(x).storage, try reference(x).storage)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
    }
}
