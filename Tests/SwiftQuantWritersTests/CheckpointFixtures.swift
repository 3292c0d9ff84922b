import Foundation
import SwiftQuant

// temporaryFolder() and pseudoRandomFloats(_:seed:scale:) come from SwiftQuantTestSupport.

/// One tensor the fixture writes, with what the reader should give back.
struct FixtureTensor {
    var name: String
    var shape: [Int]
    var sourceDType: DType
    /// Quantized: the kernel's result for `weights`; kept: nil.
    var quantized: QuantizedWeight?
    var weights: [Float]
    /// Kept: the stored dtype and bytes.
    var keptDType: DType?
    var keptBytes: [UInt8]

    static func quantized(_ name: String, _ shape: [Int], _ granularity: Granularity, seed: UInt64 = 3) throws -> FixtureTensor {
        let weights = pseudoRandomFloats(shape.reduce(1, *), seed: seed)
        let quantized = try quantizeSymmetric(FloatTensor(shape: shape, storage: weights), granularity: granularity)
        return FixtureTensor(name: name, shape: shape, sourceDType: .f32, quantized: quantized, weights: weights, keptDType: nil, keptBytes: [])
    }

    static func kept(_ name: String, _ shape: [Int], _ dtype: DType, bytes: [UInt8]) -> FixtureTensor {
        FixtureTensor(name: name, shape: shape, sourceDType: dtype, quantized: nil, weights: [], keptDType: dtype, keptBytes: bytes)
    }

    static func keptFloats(_ name: String, _ shape: [Int], seed: UInt64 = 5) -> FixtureTensor {
        let values = pseudoRandomFloats(shape.reduce(1, *), seed: seed)
        let bytes = values.withUnsafeBytes { Array($0) }
        return .kept(name, shape, .f32, bytes: bytes)
    }

    var info: TensorInfo {
        let dtype = keptDType ?? sourceDType
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteCount: dtype.byteCount(elementCount: shape.reduce(1, *)) ?? 0)
    }
}

/// The fixture set most tests use: every granularity, kept floats of every width, integers,
/// an empty tensor and a scalar.
func standardFixture() throws -> [FixtureTensor] {
    let halfs = pseudoRandomFloats(3000, seed: 9).map { Float16($0).bitPattern }
    let bf16 = pseudoRandomFloats(3000, seed: 10).map { UInt16($0.bitPattern >> 16) }
    return [
        .keptFloats("embed.weight", [300, 64]),
        try .quantized("layer.0.per_tensor", [64, 96], .perTensor, seed: 11),
        try .quantized("layer.0.per_channel", [128, 96], .perChannel, seed: 12),
        try .quantized("layer.0.per_group", [64, 128], .perGroup(size: 32), seed: 13),
        try .quantized("layer.0.conv", [8, 4, 3, 3], .perChannel, seed: 14),
        .kept("norm.f16", [3000], .f16, bytes: halfs.withUnsafeBytes { Array($0) }),
        .kept("norm.bf16", [3000], .bf16, bytes: bf16.withUnsafeBytes { Array($0) }),
        .kept("position_ids", [1, 7], .i64, bytes: (0..<7).map { Int64($0) }.withUnsafeBytes { Array($0) }),
        .kept("empty", [0, 5], .f32, bytes: []),
        .kept("scalar", [], .f32, bytes: withUnsafeBytes(of: Float(2.5)) { Array($0) }),
    ]
}

/// Writes `tensors` as a checkpoint at `path` and returns the path.
@discardableResult
func writeCheckpoint(
    _ tensors: [FixtureTensor], to path: String, options: CheckpointWriter.Options = .init(),
    metadata: [String: MetadataValue] = ["general.source": .string("fixture")]
) throws -> String {
    let output = try AtomicOutputFile(destination: path, force: true)
    let writer = CheckpointWriter(output: output, options: options)
    try writer.begin(tensors: tensors.map(\.info), metadata: metadata)
    for tensor in tensors {
        if let quantized = tensor.quantized {
            let metrics = quantizationError(original: try FloatTensor(shape: tensor.shape, storage: tensor.weights), quantized: quantized)
            try writer.write(ConvertedTensor(
                name: tensor.name, shape: tensor.shape, sourceDType: tensor.sourceDType,
                content: .quantized(quantized, metrics: metrics)))
        } else {
            try tensor.keptBytes.withUnsafeBytes { bytes in
                try writer.write(ConvertedTensor(
                    name: tensor.name, shape: tensor.shape, sourceDType: tensor.sourceDType,
                    content: .kept(dtype: tensor.keptDType!, bytes: bytes)))
            }
        }
    }
    try writer.finish()
    try output.commit()
    return path
}

func fileBytes(_ path: String) -> [UInt8] {
    [UInt8](FileManager.default.contents(atPath: path) ?? Data())
}

func writeBytes(_ bytes: [UInt8], to path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

/// Recomputes the header and preamble checksums after a test edits header bytes, so the edit
/// reaches the structural checks instead of stopping at the checksum.
func resealHeader(_ bytes: inout [UInt8]) {
    let headerLength = Int(bytes[16..<24].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    let header = bytes[64..<64 + headerLength].withUnsafeBytes { checkpointChecksum($0) }
    withUnsafeBytes(of: header.littleEndian) { bytes.replaceSubrange(40..<48, with: $0) }
    let preamble = bytes[0..<56].withUnsafeBytes { checkpointChecksum($0) }
    withUnsafeBytes(of: preamble.littleEndian) { bytes.replaceSubrange(56..<64, with: $0) }
}
