import SwiftQuantCore
/// Symmetric INT8 quantization with the reference library's semantics:
/// `scale = max|w| / 127` (0 becomes 1), `q = clamp(round_half_even(w / scale), -128, 127)`.
///
/// All arithmetic is Float32, and `w / scale` divides (never multiplies by a reciprocal), so
/// the result equals the reference bit for bit. Throws on the first NaN or infinite weight.
/// Per group falls back to per channel when the row length is not a multiple of the size.
/// Runs the C kernels of the instruction set chosen at run time (`SWIFTQUANT_ISA` can lower
/// it) on `Parallelism.threads` threads; the result depends on neither.
public func quantizeSymmetric(_ tensor: FloatTensor, granularity: Granularity) throws(KernelError) -> QuantizedWeight {
    try SymmetricInt8(granularity: granularity).quantize(tensor)
}

/// Quantizes into caller-owned buffers, for the streaming converter.
///
/// `granularity` must already be effective (see `effectiveGranularity(for:requested:)`);
/// `values.count == input.count` and `scales.count == scaleCount(shape:granularity:)`.
/// When this throws, the contents of `values` and `scales` are unspecified.
public func quantizeSymmetric(
    _ input: UnsafeBufferPointer<Float>, shape: [Int], granularity: Granularity,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    try kernelQuantize(
        EncodedValues(base: rawBase(UnsafeRawBufferPointer(input)), encoding: .float32, count: input.count),
        shape: shape, granularity: granularity, values: values, scales: scales)
}

/// Quantizes little-endian `encoded` values of `encoding` without a Float32 copy of the tensor.
///
/// Each block (row, group or, per tensor, chunk) is decoded in registers, once for max|w|
/// and once for `w / scale`; the results are bit-identical to decoding everything with
/// ``decodeFloats(_:encoding:into:)`` and calling
/// ``quantizeSymmetric(_:shape:granularity:values:scales:)``. `encoded` need not be
/// aligned; `encoded.count == values.count × encoding.byteWidth`. Float64 values are
/// rounded to Float32 first, so one beyond the Float32 range is reported as infinite.
public func quantizeSymmetric(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], granularity: Granularity,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    precondition(encoded.count == values.count * encoding.byteWidth, "encoded byte count does not match the value count")
    try kernelQuantize(
        EncodedValues(base: rawBase(encoded), encoding: encoding, count: values.count),
        shape: shape, granularity: granularity, values: values, scales: scales)
}

/// The index of the first NaN or infinite value, or `nil`.
public func firstNonFinite(_ input: UnsafeBufferPointer<Float>) -> Int? {
    let source = EncodedValues(base: rawBase(UnsafeRawBufferPointer(input)), encoding: .float32, count: input.count)
    // The parallel absmax doubles as the check: it is NaN or inf exactly when a bad value exists.
    guard kernelAbsmax(source).isFinite else { return source.firstNonFinite(in: 0..<input.count) }
    return nil
}

/// Rows handed to one thread at a time hold at least this many values, so small tensors
/// stay on one thread.
let minimumValuesPerTask = 1 << 15
