import SwiftQuantCore
/// Symmetric INT8 quantization with the reference library's semantics:
/// `scale = max|w| / 127` (0 becomes 1), `q = clamp(round_half_even(w / scale), -128, 127)`.
///
/// All arithmetic is Float32, and `w / scale` divides (never multiplies by a reciprocal), so
/// the result equals the reference bit for bit. Throws on the first NaN or infinite weight.
/// Per group falls back to per channel when the row length is not a multiple of the size.
/// Runs SIMD on `Parallelism.threads` threads; the result never depends on the count.
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
    try quantize(Float32Lanes(input), shape: shape, granularity: granularity, values: values, scales: scales)
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
    let base = rawBase(encoded)
    let count = values.count
    switch encoding {
    case .float16:
        try quantize(Float16Lanes(base: base, count: count), shape: shape, granularity: granularity, values: values, scales: scales)
    case .bfloat16:
        try quantize(BFloat16Lanes(base: base, count: count), shape: shape, granularity: granularity, values: values, scales: scales)
    case .float32:
        try quantize(Float32Lanes(base: base, count: count), shape: shape, granularity: granularity, values: values, scales: scales)
    case .float64:
        try quantize(Float64Lanes(base: base, count: count), shape: shape, granularity: granularity, values: values, scales: scales)
    }
}

/// The index of the first NaN or infinite value, or `nil`.
public func firstNonFinite(_ input: UnsafeBufferPointer<Float>) -> Int? {
    let source = Float32Lanes(input)
    // The parallel absmax doubles as the check: it is NaN or inf exactly when a bad value exists.
    guard parallelAbsmax(source).isFinite else { return source.firstNonFinite(in: 0..<input.count) }
    return nil
}

// MARK: - The one implementation behind every entry point

/// Rows handed to one thread at a time hold at least this many values, so small tensors
/// stay on one thread.
let minimumValuesPerTask = 1 << 15

func quantize<Source: LaneSource>(
    _ source: Source, shape: [Int], granularity: Granularity,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    if case .perGroup(let size) = granularity, size <= 0 { throw .invalidGroupSize(size) }
    precondition(shape.checkedElementCount == source.count, "shape does not match the value count")
    precondition(values.count == source.count, "values buffer does not match the value count")
    precondition(
        granularity == effectiveGranularity(for: shape, requested: granularity),
        "per-group size must divide the row length; pass effectiveGranularity(for:requested:)")
    precondition(scales.count == scaleCount(shape: shape, granularity: granularity), "scales buffer has the wrong size")
    guard source.count > 0 else {
        for index in scales.indices { scales[index] = 1 }
        return
    }
    let output = values.baseAddress!
    let scaleOutput = scales.baseAddress!
    let (rows, columns) = matrixView(of: shape)
    switch granularity {
    case .perTensor:
        try quantizePerTensor(source, values: output, scale: scaleOutput)
    case .perChannel:
        try quantizeBlocks(source, rows: rows, columns: columns, blockLength: columns, values: output, scales: scaleOutput)
    case .perGroup(let size):
        try quantizeBlocks(source, rows: rows, columns: columns, blockLength: size, values: output, scales: scaleOutput)
    }
}

/// One scale per run of `blockLength` values along each row; rows run in parallel.
///
/// A block with a NaN or inf gets a NaN scale as a marker instead of failing its thread;
/// afterwards the first marked block, in flat order, holds the first bad index.
private func quantizeBlocks<Source: LaneSource>(
    _ source: Source, rows: Int, columns: Int, blockLength: Int,
    values: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
) throws(KernelError) {
    let blocksPerRow = columns / blockLength
    parallelRanges(rows, minimumChunk: max(1, minimumValuesPerTask / max(columns, 1))) { range in
        for row in range {
            for block in 0..<blocksPerRow {
                let start = row * columns + block * blockLength
                let blockRange = start..<start + blockLength
                let magnitude = source.absmax(blockRange)
                guard magnitude.isFinite else {
                    scales[row * blocksPerRow + block] = .nan
                    continue
                }
                let scale = symmetricScale(absmax: magnitude)
                scales[row * blocksPerRow + block] = scale
                quantizeRun(source, blockRange, scale: scale, values: values)
            }
        }
    }
    let blockCount = rows * blocksPerRow
    if let bad = (0..<blockCount).first(where: { scales[$0].isNaN }) {
        let start = (bad / blocksPerRow) * columns + (bad % blocksPerRow) * blockLength
        let index = source.firstNonFinite(in: start..<start + blockLength)!
        throw .nonFiniteValue(index: index, value: source.value(at: index))
    }
}

/// One scale for everything: a parallel absmax, then a parallel quantization pass.
private func quantizePerTensor<Source: LaneSource>(
    _ source: Source, values: UnsafeMutablePointer<Int8>, scale: UnsafeMutablePointer<Float>
) throws(KernelError) {
    let magnitude = parallelAbsmax(source)
    guard magnitude.isFinite else {
        let index = source.firstNonFinite(in: 0..<source.count)!
        throw .nonFiniteValue(index: index, value: source.value(at: index))
    }
    let tensorScale = symmetricScale(absmax: magnitude)
    scale.pointee = tensorScale
    let count = source.count
    parallelRanges(reductionChunkCount(count)) { chunks in
        let start = chunks.lowerBound * reductionChunk
        let end = min(count, chunks.upperBound * reductionChunk)
        quantizeRun(source, start..<end, scale: tensorScale, values: values)
    }
}

/// `values[i] = clamp(round_half_even(w[i] / scale), -128, 127)` over `range`, which the
/// caller has checked to be finite.
@inline(__always)
func quantizeRun<Source: LaneSource>(
    _ source: Source, _ range: Range<Int>, scale: Float, values: UnsafeMutablePointer<Int8>
) {
    let scaleLanes = FloatLanes(repeating: scale)
    let output = UnsafeMutableRawPointer(values)
    var index = range.lowerBound
    while index + laneCount <= range.upperBound {
        output.storeBytes(
            of: quantizedLanes(source.finiteLanes(at: index), dividedBy: scaleLanes), toByteOffset: index,
            as: SIMD16<Int8>.self)
        index += laneCount
    }
    let remaining = range.upperBound - index
    if remaining > 0 {
        let quantized = quantizedLanes(source.partialLanes(at: index, available: remaining), dividedBy: scaleLanes)
        for lane in 0..<remaining { values[index + lane] = quantized[lane] }
    }
}
