import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantCheckpoint
@testable import SwiftQuantNN

/// A tensor for a test checkpoint: quantized from weights, or kept as Float32.
struct CheckpointTensor {
    var name: String
    var shape: [Int]
    var quantized: QuantizedWeight?
    var floats: [Float]

    static func quantized(_ name: String, _ shape: [Int], _ granularity: Granularity, seed: UInt64) throws -> CheckpointTensor {
        let weights = randomFloats(shape.reduce(1, *), seed: seed, scale: 0.1)
        let quantized = try quantizeSymmetric(FloatTensor(shape: shape, storage: weights), granularity: granularity)
        return CheckpointTensor(name: name, shape: shape, quantized: quantized, floats: weights)
    }

    static func kept(_ name: String, _ shape: [Int], seed: UInt64) -> CheckpointTensor {
        CheckpointTensor(name: name, shape: shape, quantized: nil, floats: randomFloats(shape.reduce(1, *), seed: seed))
    }
}

/// Writes a SwiftQuant checkpoint with the project's writer; `compressionLevel: nil` stores raw.
func writeTestCheckpoint(_ tensors: [CheckpointTensor], compressionLevel: Int32?) throws -> String {
    let path = temporaryFolder() + "/layers.sqnt"
    let output = try AtomicOutputFile(destination: path, force: true)
    let writer = CheckpointWriter(output: output, options: .init(compressionLevel: compressionLevel))
    let infos = tensors.map { tensor in
        TensorInfo(name: tensor.name, dtype: .f32, shape: tensor.shape, byteCount: 4 * tensor.shape.reduce(1, *))
    }
    try writer.begin(tensors: infos, metadata: [:])
    for tensor in tensors {
        if let quantized = tensor.quantized {
            try writer.write(ConvertedTensor(
                name: tensor.name, shape: tensor.shape, sourceDType: .f32, content: .quantized(quantized, metrics: nil)))
        } else {
            try tensor.floats.withUnsafeBytes { bytes in
                try writer.write(ConvertedTensor(name: tensor.name, shape: tensor.shape, sourceDType: .f32, content: .kept(dtype: .f32, bytes: bytes)))
            }
        }
    }
    try writer.finish()
    try output.commit()
    return path
}

@Suite("Loading layers from a checkpoint")
struct CheckpointLoadingTests {
    static func fixture() throws -> [CheckpointTensor] {
        [
            try .quantized("block.dense.weight", [24, 64], .perChannel, seed: 1),
            .kept("block.dense.bias", [24], seed: 2),
            try .quantized("block.grouped.weight", [16, 64], .perGroup(size: 32), seed: 3),
            try .quantized("block.tensorwise.weight", [8, 48], .perTensor, seed: 4),
            .kept("block.kept.weight", [8, 48], seed: 5),
            .kept("block.kept.bias", [8], seed: 6),
            try .quantized("block.conv.weight", [8, 4, 3, 3], .perChannel, seed: 7),
            try .quantized("block.badbias.weight", [8, 16], .perChannel, seed: 8),
            .kept("block.badbias.bias", [7], seed: 9),
            .kept("norm.weight", [64], seed: 10),
        ]
    }

    @Test("quantizedLinear gives the stored values, scales and bias, and runs like the in-memory layer",
          arguments: [nil, Int32(1)])
    func loadsEveryGranularity(compressionLevel: Int32?) throws {
        let tensors = try Self.fixture()
        let checkpoint = try CheckpointFile(path: try writeTestCheckpoint(tensors, compressionLevel: compressionLevel))
        for (name, hasBias) in [("block.dense", true), ("block.grouped", false), ("block.tensorwise", false)] {
            let stored = try #require(tensors.first { $0.name == name + ".weight" }?.quantized)
            let bias = tensors.first { $0.name == name + ".bias" }?.floats
            let layer = try checkpoint.quantizedLinear(name)
            #expect(layer.quantizedWeight == stored, "\(name)")
            #expect((layer.bias != nil) == hasBias)
            #expect(layer.bias == bias)
            let expected = try QuantizedLinear(weight: stored, bias: bias)
            let x = randomTensor([5, stored.shape[1]], seed: 11)
            #expect(try layer(x) == expected(x), "\(name)")
        }
    }

    @Test("Raw-codec values are read in place from the memory map")
    func rawValuesAreZeroCopy() throws {
        let checkpoint = try CheckpointFile(path: try writeTestCheckpoint(try Self.fixture(), compressionLevel: nil))
        let layer = try checkpoint.quantizedLinear("block.dense")
        let values = try #require(layer.values)
        let map = checkpoint.file.bytes
        let start = try #require(values.bytes.baseAddress), mapStart = try #require(map.baseAddress)
        #expect(start >= mapStart && start + values.bytes.count <= mapStart + map.count)
        // Compared outside #expect: the macro's expansion of `===` on AnyObject crashes Swift 6.3's SILGen.
        let ownedByTheMap = values.owner === checkpoint.file
        #expect(ownedByTheMap)
    }

    @Test("Kept float layers load as Linear; linearLayer picks whichever is stored")
    func keptLayers() throws {
        let tensors = try Self.fixture()
        let checkpoint = try CheckpointFile(path: try writeTestCheckpoint(tensors, compressionLevel: 1))
        let kept = try checkpoint.linearLayer("block.kept")
        let linear = try #require(kept as? Linear)
        #expect(linear.weight.storage == tensors.first { $0.name == "block.kept.weight" }!.floats)
        #expect(linear.bias == tensors.first { $0.name == "block.kept.bias" }!.floats)
        #expect(try checkpoint.linearLayer("block.dense") is QuantizedLinear)
        #expect(try checkpoint.floats(for: "norm.weight") == tensors.first { $0.name == "norm.weight" }!.floats)
    }

    @Test("Missing, kept, non-2-D and mismatched tensors throw one-line errors")
    func errors() throws {
        let path = try writeTestCheckpoint(try Self.fixture(), compressionLevel: 1)
        let checkpoint = try CheckpointFile(path: path)
        #expect(throws: TensorSourceError.noSuchTensor(path: path, name: "block.missing.weight")) {
            try checkpoint.quantizedLinear("block.missing")
        }
        #expect(throws: LayerLoadingError.notQuantized(path: path, tensor: "block.kept.weight")) {
            try checkpoint.quantizedLinear("block.kept")
        }
        #expect(throws: LayerLoadingError.invalidLayer(
            path: path, layer: "block.conv", reason: .weightShapeMismatch(expected: [8, 36], actual: [8, 4, 3, 3]))) {
            try checkpoint.quantizedLinear("block.conv")
        }
        #expect(throws: LayerLoadingError.invalidLayer(path: path, layer: "block.badbias", reason: .biasCountMismatch(expected: 8, actual: 7))) {
            try checkpoint.quantizedLinear("block.badbias")
        }
        let error = LayerLoadingError.invalidLayer(path: path, layer: "block.conv", reason: .weightShapeMismatch(expected: [8, 36], actual: [8, 4, 3, 3]))
        #expect(!error.description.contains("\n") && error.description.contains("block.conv"))
    }
}
