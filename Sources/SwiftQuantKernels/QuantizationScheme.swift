import SwiftQuantCore

/// A way to turn float weights into a `QuantizedWeight` and back.
///
/// A scheme quantizes (from Float32 or straight from a source's encoded bytes), measures the
/// error of what it stores, and dequantizes. The converter works through this protocol only:
/// a new scheme (a 4-bit group scheme, say) is a new `QuantizationDescriptor` case, a type
/// conforming here and a line in `QuantizationDescriptor.scheme`; nothing in the converter
/// changes.
public protocol QuantizationScheme: Sendable {
    /// The data describing this scheme, as quantized weights record it.
    var descriptor: QuantizationDescriptor { get }

    /// Quantizes row-major Float32 `weights` of `shape`.
    /// Throws on the first NaN or infinite weight, or when the scheme cannot hold `shape`.
    func quantize(_ weights: UnsafeBufferPointer<Float>, shape: [Int]) throws(KernelError) -> QuantizedWeight

    /// Quantizes little-endian `encoded` floats of `shape` without the caller making a Float32
    /// copy; bit-identical to decoding them and calling ``quantize(_:shape:)``.
    func quantize(encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int]) throws(KernelError) -> QuantizedWeight

    /// The error of what `weight` stores (`code × scale`, as a reader dequantizes it) against
    /// the finite Float32 originals.
    func errorMetrics(of weight: QuantizedWeight, original: UnsafeBufferPointer<Float>) -> QuantizationErrorMetrics

    /// The error of what `weight` stores against finite originals still in their encoding.
    func errorMetrics(of weight: QuantizedWeight, encoded: UnsafeRawBufferPointer, encoding: FloatEncoding) -> QuantizationErrorMetrics
}

extension QuantizationScheme {
    /// Quantizes a `FloatTensor`.
    public func quantize(_ weights: FloatTensor) throws(KernelError) -> QuantizedWeight {
        try weights.storage.withUnsafeBufferPointer { (buffer) throws(KernelError) in
            try quantize(buffer, shape: weights.shape)
        }
    }

    /// The error of `weight` against a `FloatTensor` of the originals.
    public func errorMetrics(of weight: QuantizedWeight, original: FloatTensor) -> QuantizationErrorMetrics {
        original.storage.withUnsafeBufferPointer { errorMetrics(of: weight, original: $0) }
    }

    // Both schemes here store one Int8 code per weight in consecutive blocks of one scale, so
    // they share the reference-exact metrics kernel; the Q8_0 scales are the fp16 `d` widened,
    // so its metrics are those of what ggml dequantizes.
    public func errorMetrics(of weight: QuantizedWeight, original: UnsafeBufferPointer<Float>) -> QuantizationErrorMetrics {
        precondition(original.count == weight.elementCount, "original and quantized differ in size")
        return weight.withInt8Codes { codes in
            weight.scales.withUnsafeBufferPointer { quantizationError(original: original, values: codes, scales: $0) }
        }
    }

    public func errorMetrics(of weight: QuantizedWeight, encoded: UnsafeRawBufferPointer, encoding: FloatEncoding) -> QuantizationErrorMetrics {
        weight.withInt8Codes { codes in
            weight.scales.withUnsafeBufferPointer { quantizationError(encoded: encoded, encoding: encoding, values: codes, scales: $0) }
        }
    }
}

extension QuantizationDescriptor {
    /// The implementation of this scheme.
    public var scheme: any QuantizationScheme { scheme(arithmetic: .float32) }

    /// The implementation of this scheme, computing symmetric INT8 with `arithmetic` (Q8_0 has
    /// one arithmetic, ggml's).
    public func scheme(arithmetic: Arithmetic) -> any QuantizationScheme {
        switch self {
        case .symmetricInt8(let granularity): SymmetricInt8(granularity: granularity, arithmetic: arithmetic)
        case .q8_0: Q8_0()
        }
    }
}

/// `code × scale` for every value of `weight`, with the scale of its block: the dequantization
/// of every scheme here.
public func dequantize(_ weight: QuantizedWeight) -> FloatTensor {
    let count = weight.elementCount
    let storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        weight.withInt8Codes { codes in
            weight.scales.withUnsafeBufferPointer { scales in
                dequantize(values: codes, scales: scales, into: buffer)
            }
        }
        initialized = count
    }
    return FloatTensor(uncheckedShape: weight.shape, storage: storage)
}

// MARK: - Symmetric INT8

/// SwiftQuant's symmetric INT8 with the reference semantics of rotalabs_accel, per tensor, per
/// channel or per group (see ``quantizeSymmetric(_:granularity:)``).
public struct SymmetricInt8: QuantizationScheme, Hashable {
    /// The requested granularity; per group falls back to per channel for rows it does not divide.
    public var granularity: Granularity
    /// How scales and codes are computed from encoded Float16/BFloat16/Float64 weights:
    /// widened to Float32 (the default), or rounded to the weight's dtype after each op as
    /// rotalabs-accel does in PyTorch. The two agree on Float32 weights, and the Float32 entry
    /// point ``quantize(_:shape:)`` always computes in Float32.
    public var arithmetic: Arithmetic

    public init(granularity: Granularity, arithmetic: Arithmetic = .float32) {
        self.granularity = granularity
        self.arithmetic = arithmetic
    }

    public var descriptor: QuantizationDescriptor { .symmetricInt8(granularity) }

    public func quantize(_ weights: UnsafeBufferPointer<Float>, shape: [Int]) throws(KernelError) -> QuantizedWeight {
        try quantizeInto(shape: shape, count: weights.count) { (codes, scales, effective) throws(KernelError) in
            try quantizeSymmetric(weights, shape: shape, granularity: effective, values: codes, scales: scales)
        }
    }

    public func quantize(encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int]) throws(KernelError) -> QuantizedWeight {
        try quantizeInto(shape: shape, count: encoded.count / encoding.byteWidth) { (codes, scales, effective) throws(KernelError) in
            try quantizeSymmetric(
                encoded: encoded, encoding: encoding, shape: shape, granularity: effective, arithmetic: arithmetic,
                values: codes, scales: scales)
        }
    }

    /// The error with this scheme's arithmetic: `.reference` measures as
    /// `calculate_quantization_error` does, in the weight's dtype.
    public func errorMetrics(of weight: QuantizedWeight, encoded: UnsafeRawBufferPointer, encoding: FloatEncoding) -> QuantizationErrorMetrics {
        weight.withInt8Codes { codes in
            weight.scales.withUnsafeBufferPointer {
                quantizationError(encoded: encoded, encoding: encoding, values: codes, scales: $0, arithmetic: arithmetic)
            }
        }
    }

    /// Allocates the codes (64-byte aligned, so a layer can use them in place) and scales, and
    /// lets `body` fill them.
    private func quantizeInto(
        shape: [Int], count: Int,
        _ body: (UnsafeMutableBufferPointer<Int8>, UnsafeMutableBufferPointer<Float>, Granularity) throws(KernelError) -> Void
    ) throws(KernelError) -> QuantizedWeight {
        if case .perGroup(let size) = granularity, size <= 0 { throw .invalidGroupSize(size) }
        guard shape.checkedElementCount == count else { throw .shapeMismatch(expected: shape, elements: count) }
        let effective = effectiveGranularity(for: shape, requested: granularity)
        let codes = OwnedBytes(count: count)
        var scales = [Float](repeating: 1, count: scaleCount(shape: shape, granularity: effective))
        try scales.withUnsafeMutableBufferPointer { (scaleBuffer) throws(KernelError) in
            let codeBuffer = UnsafeMutableBufferPointer(
                start: codes.pointer.bindMemory(to: Int8.self, capacity: max(count, 1)), count: count)
            try body(codeBuffer, scaleBuffer, effective)
        }
        return QuantizedWeight(unchecked: shape, scheme: .symmetricInt8(effective), codes: SharedBytes(codes), scales: scales)
    }
}

// MARK: - ggml Q8_0

extension Q8_0: QuantizationScheme {
    public var descriptor: QuantizationDescriptor { .q8_0 }

    /// Bit-exact with ggml's `quantize_row_q8_0_ref` (see ``quantizeQ8_0(_:into:)``); the
    /// scales are the stored fp16 `d`, widened.
    public func quantize(_ weights: UnsafeBufferPointer<Float>, shape: [Int]) throws(KernelError) -> QuantizedWeight {
        guard shape.checkedElementCount == weights.count else { throw .shapeMismatch(expected: shape, elements: weights.count) }
        if let reason = QuantizationDescriptor.q8_0.unsupportedReason(for: shape) {
            throw .unsupportedShape(shape, scheme: .q8_0, reason: reason)
        }
        let count = weights.count
        let codes = OwnedBytes(count: count)
        var scales = [Float](repeating: 0, count: count / Self.blockLength)
        try scales.withUnsafeMutableBufferPointer { (scaleBuffer) throws(KernelError) in
            let codeBuffer = UnsafeMutableBufferPointer(
                start: codes.pointer.bindMemory(to: Int8.self, capacity: max(count, 1)), count: count)
            try quantizeQ8_0(weights, codes: codeBuffer, scales: scaleBuffer)
        }
        return QuantizedWeight(unchecked: shape, scheme: .q8_0, codes: SharedBytes(codes), scales: scales)
    }

    /// Decodes to Float32 first: ggml quantizes Float32 rows, and so does this.
    public func quantize(encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int]) throws(KernelError) -> QuantizedWeight {
        let floats = decodeFloats(encoded, encoding: encoding)
        return try floats.withUnsafeBufferPointer { (buffer) throws(KernelError) in try quantize(buffer, shape: shape) }
    }

    /// ggml blocks (`{fp16 d; int8 qs[32]}` each) of a Q8_0 weight, for a GGUF file. The scales
    /// are widened fp16 values, so narrowing them back is exact.
    public static func blocks(of weight: QuantizedWeight, into output: UnsafeMutableRawBufferPointer) {
        precondition(weight.scheme == .q8_0 && output.count == weight.scales.count * blockByteCount)
        weight.withInt8Codes { codes in
            for block in weight.scales.indices {
                let start = block * blockByteCount
                output.storeBytes(of: Float16(weight.scales[block]).bitPattern.littleEndian, toByteOffset: start, as: UInt16.self)
                UnsafeMutableRawBufferPointer(rebasing: output[start + 2..<start + blockByteCount])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(codes)[block * blockLength..<(block + 1) * blockLength]))
            }
        }
    }

    /// A Q8_0 weight from ggml blocks: codes copied out, each fp16 `d` widened to a Float32 scale.
    /// Precondition: `blocks.count` is a whole number of blocks holding `shape`'s elements.
    public static func weight(fromBlocks blocks: UnsafeRawBufferPointer, shape: [Int]) throws(KernelError) -> QuantizedWeight {
        let count = shape.checkedElementCount ?? -1
        guard count >= 0, count % blockLength == 0, blocks.count == count / blockLength * blockByteCount else {
            throw .shapeMismatch(expected: shape, elements: blocks.count / blockByteCount * blockLength)
        }
        let codes = OwnedBytes(count: count)
        var scales = [Float](repeating: 0, count: count / blockLength)
        for block in scales.indices {
            let start = block * blockByteCount
            scales[block] = Float(Float16(bitPattern: UInt16(littleEndian: blocks.loadUnaligned(fromByteOffset: start, as: UInt16.self))))
            (codes.pointer + block * blockLength).copyMemory(from: blocks.baseAddress! + start + 2, byteCount: blockLength)
        }
        return try QuantizedWeight(shape: shape, scheme: .q8_0, codes: SharedBytes(codes), scales: scales)
    }
}
