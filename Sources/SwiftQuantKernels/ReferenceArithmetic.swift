#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftQuantCore

/// Which arithmetic symmetric INT8 quantization uses on Float16, BFloat16 and Float64 weights.
///
/// Both give identical codes and scales on Float32 weights, where the reference computes in
/// Float32 too. They differ on narrower dtypes:
///
/// | | `.float32` (default) | `.reference` |
/// |---|---|---|
/// | `max/127`, `w/scale` | Float32, on the exactly widened weights | rounded to the weight's dtype after each op, as PyTorch does |
/// | tiny Float16 rows (max\|w\| < 3.8e-6) | keep ±127 codes | scale underflows to 0 → 1, all codes 0 |
/// | matches rotalabs-accel bit for bit on | `w.float()` | `w` itself |
///
/// `.float32` is the default because it is closer to the weights (measured on MiniLM cast to
/// Float16 and BFloat16: higher SNR on every tensor) and never zeroes a row.
public enum Arithmetic: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Widen to Float32 once, compute in Float32.
    case float32
    /// rotalabs-accel's arithmetic in PyTorch: each op rounded to the weight's dtype.
    case reference

    public var description: String { rawValue }
}

// MARK: - Plain functions over encoded values (for the converter and scheme types)

/// Quantizes little-endian `encoded` values with rotalabs-accel's arithmetic in the tensor's dtype.
///
/// For each block (the whole tensor, a row, or a group along a row, as `granularity` says):
/// `amax = max|w|` (exact), `scale = round_dtype(amax / 127)`, `scale == 0 → 1`,
/// `q = clamp(round_half_even(round_dtype(w / scale)), -128, 127)`, and the returned scale
/// is the dtype's scale widened to Float32 (exact for Float16/BFloat16, rounded for Float64).
/// On Float32 values the result equals ``quantizeSymmetric(encoded:encoding:shape:granularity:values:scales:)``.
///
/// `granularity` must already be effective (see `effectiveGranularity(for:requested:)`).
/// - Throws: `KernelError.nonFiniteValue(index:value:)` for the first NaN or infinite weight
///   (the reference does not check and produces meaningless codes there).
public func quantizeSymmetricReference(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], granularity: Granularity,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    precondition(encoded.count == values.count * encoding.byteWidth, "encoded byte count does not match the value count")
    precondition(scales.count == scaleCount(shape: shape, granularity: granularity), "scales buffer has the wrong size")
    if case .perGroup(let size) = granularity, size <= 0 { throw .invalidGroupSize(size) }
    guard values.count > 0 else {
        for index in scales.indices { scales[index] = 1 }
        return
    }
    let blockLength = values.count / scales.count
    let axis = ReferenceAxis(outer: scales.count, length: blockLength, inner: 1)
    try referenceQuantize(EncodedElements(encoded, encoding), axis, values: values, scales: scales)
}

/// ``quantizeSymmetricReference(encoded:encoding:shape:granularity:values:scales:)`` into new arrays.
public func quantizeSymmetricReference(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], granularity: Granularity
) throws(KernelError) -> (values: [Int8], scales: [Float]) {
    let granularity = effectiveGranularity(for: shape, requested: granularity)
    var values = [Int8](repeating: 0, count: encoded.count / encoding.byteWidth)
    var scales = [Float](repeating: 1, count: scaleCount(shape: shape, granularity: granularity))
    try values.withUnsafeMutableBufferPointer { (output) throws(KernelError) in
        try scales.withUnsafeMutableBufferPointer { (scaleOutput) throws(KernelError) in
            try quantizeSymmetricReference(
                encoded: encoded, encoding: encoding, shape: shape, granularity: granularity,
                values: output, scales: scaleOutput)
        }
    }
    return (values, scales)
}

/// Quantizes `encoded` with the chosen ``Arithmetic``: `.float32` is
/// ``quantizeSymmetric(encoded:encoding:shape:granularity:values:scales:)``, `.reference` is
/// ``quantizeSymmetricReference(encoded:encoding:shape:granularity:values:scales:)``.
public func quantizeSymmetric(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], granularity: Granularity,
    arithmetic: Arithmetic, values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    switch arithmetic {
    case .float32:
        try quantizeSymmetric(
            encoded: encoded, encoding: encoding, shape: shape, granularity: granularity, values: values, scales: scales)
    case .reference:
        try quantizeSymmetricReference(
            encoded: encoded, encoding: encoding, shape: shape, granularity: granularity, values: values, scales: scales)
    }
}

/// The metrics as `calculate_quantization_error` computes them, in the source dtype:
/// `restored = round_dtype(Float(q) × scale)`, `diff = Float(round_dtype(w − restored))`,
/// then max, mean, relative error and SNR in Float32 on `diff` and `Float(w)`.
///
/// Blocks of `values.count / scales.count` consecutive values share a scale, as the
/// quantization functions lay them out. Sums are accumulated in Double and rounded once,
/// so `meanAbsError` and `snrDecibels` can differ from PyTorch's Float32 sums in the last
/// bits; `maxAbsError` and `relativeErrorPercent` are exact. An all-zero original gives an
/// SNR of −infinity, as the reference does. The originals must be finite.
public func quantizationErrorReference(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding,
    values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    precondition(encoded.count == values.count * encoding.byteWidth, "encoded byte count does not match the value count")
    guard values.count > 0, scales.count > 0 else { return .empty }
    precondition(values.count % scales.count == 0, "scales do not divide the values into equal blocks")
    let blockLength = values.count / scales.count
    let source = EncodedElements(encoded, encoding)
    return referenceMetrics(count: values.count, encoding: encoding, original: { source[$0] }) { index in
        Float(values[index]) * scales[index / blockLength]
    }
}

/// The metrics with the chosen ``Arithmetic``: `.float32` is
/// ``quantizationError(encoded:encoding:values:scales:)``, `.reference` is
/// ``quantizationErrorReference(encoded:encoding:values:scales:)``.
public func quantizationError(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding,
    values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>, arithmetic: Arithmetic
) -> QuantizationErrorMetrics {
    switch arithmetic {
    case .float32: quantizationError(encoded: encoded, encoding: encoding, values: values, scales: scales)
    case .reference: quantizationErrorReference(encoded: encoded, encoding: encoding, values: values, scales: scales)
    }
}

// MARK: - Rounding to a dtype

/// `x` rounded to nearest even in `encoding`, as PyTorch rounds every op's result.
///
/// Ops are computed in Double and rounded once: Double has more than 2p + 2 bits for every
/// target precision p here, so this equals the correctly rounded op in that dtype (and
/// PyTorch's compute-in-Float32-then-round for Float16/BFloat16).
@inline(__always)
func rounded(_ x: Double, to encoding: FloatEncoding) -> Double {
    switch encoding {
    case .float16: Double(Float16(x))
    case .bfloat16: Double(roundedToBFloat16(Float(x)))
    case .float32: Double(Float(x))
    case .float64: x
    }
}

/// Float32 → BFloat16 (round to nearest even), widened back.
@inline(__always)
func roundedToBFloat16(_ value: Float) -> Float {
    Float(bitPattern: UInt32(bfloat16Bits(value)) << 16)
}

/// `value` rounded to `encoding` and kept in Float (exact for Float16, BFloat16 and Float32).
@inline(__always)
package func roundedFloat(_ value: Float, to encoding: FloatEncoding) -> Float {
    switch encoding {
    case .float16: Float(Float16(value))
    case .bfloat16: roundedToBFloat16(value)
    case .float32, .float64: value
    }
}

// MARK: - Implementation

/// Reads element `i` of little-endian encoded values, widened exactly to Double.
struct EncodedElements: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let encoding: FloatEncoding

    init(_ buffer: UnsafeRawBufferPointer, _ encoding: FloatEncoding) {
        base = buffer.baseAddress
        self.encoding = encoding
    }

    @inline(__always)
    subscript(_ index: Int) -> Double {
        let base = base!
        switch encoding {
        case .float16:
            return Double(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))))
        case .bfloat16:
            let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            return Double(Float(bitPattern: UInt32(bits) << 16))
        case .float32:
            return Double(Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))))
        case .float64:
            return Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
        }
    }
}

/// A tensor seen as `[outer, length, inner]`: one scale per `(outer, inner)`, reducing over `length`.
struct ReferenceAxis {
    var outer: Int
    var length: Int
    var inner: Int
}

/// The reference's quantization, op by op in the source's dtype. Scale slots run in parallel
/// over `outer`; the first non-finite value (flat order) is reported afterwards.
func referenceQuantize(
    _ source: EncodedElements, _ axis: ReferenceAxis,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    let encoding = source.encoding
    let (length, inner) = (axis.length, axis.inner)
    guard let output = values.baseAddress, let scaleOutput = scales.baseAddress else { return }
    nonisolated(unsafe) let out = output
    nonisolated(unsafe) let scaleOut = scaleOutput
    let badMarker = [Bool](repeating: false, count: axis.outer)
    var bad = badMarker
    bad.withUnsafeMutableBufferPointer { badBuffer in
        nonisolated(unsafe) let badFlags = badBuffer.baseAddress!
        parallelRanges(axis.outer, minimumChunk: max(1, minimumValuesPerTask / max(1, length * inner))) { range in
            for outer in range {
                for column in 0..<inner {
                    let slot = outer * inner + column
                    var magnitude = 0.0
                    var finite = true
                    for position in 0..<length {
                        let w = source[(outer * length + position) * inner + column]
                        if !w.isFinite { finite = false; break }
                        magnitude = max(magnitude, abs(w))
                    }
                    guard finite else {
                        badFlags[outer] = true
                        continue
                    }
                    var scale = rounded(magnitude / 127, to: encoding)
                    if scale == 0 { scale = 1 }
                    // `.float()` of the dtype's scale: exact except from Float64.
                    scaleOut[slot] = Float(scale)
                    for position in 0..<length {
                        let index = (outer * length + position) * inner + column
                        let ratio = rounded(source[index] / scale, to: encoding)
                        let code = min(max(ratio.rounded(.toNearestOrEven), -128), 127)
                        out[index] = Int8(code)
                    }
                }
            }
        }
    }
    if let outer = bad.firstIndex(of: true) {
        let start = outer * length * inner
        let index = (start..<start + length * inner).first { !source[$0].isFinite }!
        throw .nonFiniteValue(index: index, value: Float(source[index]))
    }
}

/// `calculate_quantization_error` given the originals and the Float32 dequantized values
/// (`Float(q) × scale`, before rounding to the dtype).
func referenceMetrics(
    count: Int, encoding: FloatEncoding, original: (Int) -> Double, restoredFloat32: (Int) -> Float
) -> QuantizationErrorMetrics {
    var maxError: Float = 0
    var maxOriginal: Float = 0
    var absoluteSum = 0.0
    var signalSum = 0.0
    var noiseSum = 0.0
    // Pass 1: everything but the relative error, which needs max|w| first.
    for index in 0..<count {
        let w = original(index)
        let restored = rounded(Double(restoredFloat32(index)), to: encoding)
        let difference = Float(rounded(w - restored, to: encoding))
        let wFloat = Float(w)
        maxError = max(maxError, abs(difference))
        maxOriginal = max(maxOriginal, abs(wFloat))
        absoluteSum += Double(abs(difference))
        signalSum += Double(wFloat * wFloat)
        noiseSum += Double(difference * difference)
    }
    let threshold = maxOriginal * Float(0.1)
    var relative: Float = 0
    for index in 0..<count {
        let wFloat = Float(original(index))
        guard abs(wFloat) > threshold else { continue }
        let restored = rounded(Double(restoredFloat32(index)), to: encoding)
        let difference = Float(rounded(original(index) - restored, to: encoding))
        relative = max(relative, abs(difference) / abs(wFloat))
    }
    let n = Float(count)
    let signal = Float(signalSum) / n
    let noise = Float(noiseSum) / n
    let snr: Float = 10 * log10f(signal / (noise + Float(1e-10)))
    return QuantizationErrorMetrics(
        maxAbsError: maxError, meanAbsError: Float(absoluteSum) / n,
        relativeErrorPercent: relative * 100, snrDecibels: snr)
}
