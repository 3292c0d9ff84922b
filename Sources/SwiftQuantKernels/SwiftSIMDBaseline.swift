import SwiftQuantCore

// The Swift SIMD kernels that the C kernels replaced (SSE2-width `SIMD16` lanes, generic over
// ``LaneSource``), kept for one purpose: `swiftquant bench` times them beside the C kernels in
// the same run, so the speed-up is measured, not remembered. Nothing else calls them; the tests
// compare the C kernels with the element-by-element reference instead.
package enum SwiftSIMDBaseline {
    /// ``decodeFloats(_:encoding:into:)`` as the Swift SIMD code did it.
    package static func decodeFloats(
        _ source: UnsafeRawBufferPointer, encoding: FloatEncoding, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(source.count == destination.count * encoding.byteWidth)
        let count = destination.count
        guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        switch encoding {
        case .float16: decode(Float16Lanes(base: input, count: count), into: output)
        case .bfloat16: decode(BFloat16Lanes(base: input, count: count), into: output)
        case .float32: UnsafeMutableRawPointer(output).copyMemory(from: input, byteCount: 4 * count)
        case .float64: decode(Float64Lanes(base: input, count: count), into: output)
        }
    }

    /// ``absmax(encoded:encoding:)`` as the Swift SIMD code did it.
    package static func absmax(encoded: UnsafeRawBufferPointer, encoding: FloatEncoding) -> Float {
        let base = rawBase(encoded)
        let count = encoded.count / encoding.byteWidth
        switch encoding {
        case .float16: return parallelAbsmax(Float16Lanes(base: base, count: count))
        case .bfloat16: return parallelAbsmax(BFloat16Lanes(base: base, count: count))
        case .float32: return parallelAbsmax(Float32Lanes(base: base, count: count))
        case .float64: return parallelAbsmax(Float64Lanes(base: base, count: count))
        }
    }

    /// ``quantizeSymmetric(encoded:encoding:shape:granularity:values:scales:)`` as the Swift SIMD code did it.
    package static func quantizeSymmetric(
        encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], granularity: Granularity,
        values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
    ) throws(KernelError) {
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

    /// ``quantizationError(encoded:encoding:values:scales:)`` as the Swift SIMD code did it.
    package static func quantizationError(
        encoded: UnsafeRawBufferPointer, encoding: FloatEncoding,
        values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
    ) -> QuantizationErrorMetrics {
        let base = rawBase(encoded)
        let count = values.count
        switch encoding {
        case .float16: return baselineErrorMetrics(Float16Lanes(base: base, count: count), values: values, scales: scales)
        case .bfloat16: return baselineErrorMetrics(BFloat16Lanes(base: base, count: count), values: values, scales: scales)
        case .float32: return baselineErrorMetrics(Float32Lanes(base: base, count: count), values: values, scales: scales)
        case .float64: return baselineErrorMetrics(Float64Lanes(base: base, count: count), values: values, scales: scales)
        }
    }

    /// ``quantizeQ8_0(_:into:)`` as the Swift SIMD code did it.
    package static func quantizeQ8_0(
        _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer
    ) throws(KernelError) {
        guard let destination = output.baseAddress else { return }
        try baselineQuantizeQ8_0(input, into: Q8_0Destination(
            codes: destination + 2, codeStride: Q8_0.blockByteCount, halfScales: destination, floatScales: nil))
    }
}

// MARK: - Symmetric INT8


private func quantize<Source: LaneSource>(
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
private func quantizeRun<Source: LaneSource>(
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

// MARK: - Decoding

private func decode<Source: LaneSource>(_ source: Source, into output: UnsafeMutablePointer<Float>) {
    let count = source.count
    let result = UnsafeMutableRawPointer(output)
    parallelRanges(reductionChunkCount(count)) { chunks in
        var index = chunks.lowerBound * reductionChunk
        let end = min(count, chunks.upperBound * reductionChunk)
        while index + laneCount <= end {
            result.storeBytes(of: source.lanes(at: index), toByteOffset: 4 * index, as: FloatLanes.self)
            index += laneCount
        }
        while index < end {
            output[index] = source.value(at: index)
            index += 1
        }
    }
}

// MARK: - Q8_0

/// Where quantized blocks go: interleaved ggml blocks, or codes and widened scales apart.
private struct Q8_0Destination: @unchecked Sendable {
    // Sendable: each block is written by exactly one thread.
    var codes: UnsafeMutableRawPointer
    var codeStride: Int
    var halfScales: UnsafeMutableRawPointer?
    var floatScales: UnsafeMutablePointer<Float>?

    @inline(__always)
    func store(block: Int, d: Float, quants: SIMD32<Int8>) {
        let half = Float16(d)
        if let halfScales {
            halfScales.storeBytes(of: half.bitPattern.littleEndian, toByteOffset: block &* Q8_0.blockByteCount, as: UInt16.self)
        }
        if let floatScales { floatScales[block] = Float(half) }
        codes.storeBytes(of: quants, toByteOffset: block &* codeStride, as: SIMD32<Int8>.self)
    }
}

private func baselineQuantizeQ8_0(_ input: UnsafeBufferPointer<Float>, into destination: Q8_0Destination) throws(KernelError) {
    let blocks = input.count / Q8_0.blockLength
    guard blocks > 0, let source = input.baseAddress else { return }

    // Work is split into fixed chunks, each recording its first bad block in its own slot, so
    // the error reported is the first bad weight whatever the thread count.
    let chunkBlocks = 1024
    let chunks = (blocks + chunkBlocks - 1) / chunkBlocks
    var firstBad = [Int](repeating: Int.max, count: chunks)
    firstBad.withUnsafeMutableBufferPointer { slots in
        let badSlots = slots
        parallelRanges(chunks, minimumChunk: 2) { chunkRange in
            for chunk in chunkRange {
                let range = chunk * chunkBlocks..<min(blocks, (chunk + 1) * chunkBlocks)
                badSlots[chunk] = quantizeQ8_0Blocks(range, from: source, into: destination)
            }
        }
    }
    if let bad = firstBad.first(where: { $0 != Int.max }) {
        for i in bad * Q8_0.blockLength..<(bad + 1) * Q8_0.blockLength where !input[i].isFinite {
            throw .nonFiniteValue(index: i, value: input[i])
        }
    }
}

/// Quantizes the blocks in `range`; returns the first block holding a NaN or infinity
/// (left unwritten), or `Int.max`.
@inline(__always)
private func quantizeQ8_0Blocks(
    _ range: Range<Int>, from source: UnsafePointer<Float>, into destination: Q8_0Destination
) -> Int {
    var bad = Int.max
    // The input pointer strides through the blocks: no per-block index arithmetic to overflow-check.
    var x = UnsafeRawPointer(source + range.lowerBound &* Q8_0.blockLength)
    for block in range {
        let low = x.loadUnaligned(as: SIMD16<Float>.self)
        let high = x.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        x += 128
        // x − x is 0 for finite x and NaN for NaN or ±inf.
        if !all((low - low) .== 0 .& (high - high) .== 0) {
            if block < bad { bad = block }
            continue
        }
        let amax = maximum(magnitude(low), magnitude(high))
        let d = amax / 127
        var id: Float = d != 0 ? 1 / d : 0
        if !id.isFinite { id = 0 }
        let quants = SIMD32<Int8>(lowHalf: roundedQuants(low * id), highHalf: roundedQuants(high * id))
        destination.store(block: block, d: d, quants: quants)
    }
    return bad
}

// The stdlib's generic SIMD reductions, `rounded` and float-to-int conversions run lane by
// lane (measured 5–100× slower), so these helpers use only compares, blends and bit casts.

/// |v| by clearing the sign bits.
@inline(__always)
private func magnitude(_ v: SIMD16<Float>) -> SIMD16<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
}

/// The largest lane of two non-negative vectors.
@inline(__always)
private func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> Float {
    let m16 = a.replacing(with: b, where: b .> a)
    let m8 = m16.lowHalf.replacing(with: m16.highHalf, where: m16.highHalf .> m16.lowHalf)
    let m4 = m8.lowHalf.replacing(with: m8.highHalf, where: m8.highHalf .> m8.lowHalf)
    return max(max(m4[0], m4[1]), max(m4[2], m4[3]))
}

/// `roundf` of each lane (half away from zero) as int8, for lanes within ±2^22 (quants are within ±127.5).
@inline(__always)
private func roundedQuants(_ x: SIMD16<Float>) -> SIMD16<Int8> {
    // Adding 1.5·2^23 rounds to an integer, nearest-even; the low mantissa bits then hold it
    // in two's complement.
    let shift: Float = 12_582_912
    let nearestEven = (x + shift) - shift
    // x − nearestEven is exact. A tie that went toward zero moves one step away from zero.
    let difference = x - nearestEven
    let towardZeroTie = (difference .== 0.5 .& x .> 0) .| (difference .== -0.5 .& x .< 0)
    let rounded = nearestEven.replacing(with: nearestEven + difference + difference, where: towardZeroTie)
    let bits = unsafeBitCast(rounded + shift, to: SIMD16<UInt32>.self)
    return SIMD16<Int8>(truncatingIfNeeded: bits)
}


// MARK: - Error metrics


/// Partial sums of one reduction chunk.
private struct BaselineErrorSums {
    var maxError: Float = 0
    var absoluteError: Double = 0
    var signal: Double = 0
    var noise: Double = 0
    var relative: Float = 0
}

/// Lane accumulators are folded into Double after this many steps, bounding Float32
/// rounding in the sums to about 2⁻¹⁸ relative.
private let foldInterval = 64

private func baselineErrorMetrics<Source: LaneSource>(
    _ source: Source, values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    let count = source.count
    guard count > 0, let quantized = values.baseAddress, let scaleBase = scales.baseAddress else { return .empty }
    precondition(count % scales.count == 0, "scales do not divide the values into equal blocks")
    let blockLength = count / scales.count
    // Only values above 10 % of max|w| count for the relative error; the bit-pattern absmax
    // is cheap, and knowing the threshold up front leaves one pass over the data.
    let threshold = parallelAbsmax(source) * 0.1
    let chunks = reductionChunkCount(count)
    var partial = [BaselineErrorSums](repeating: BaselineErrorSums(), count: chunks)
    partial.withUnsafeMutableBufferPointer { partial in
        parallelRanges(chunks) { range in
            for chunk in range {
                partial[chunk] = baselineChunkSums(
                    source, reductionChunkRange(chunk, count: count), quantized, scaleBase, blockLength, threshold)
            }
        }
    }
    var total = BaselineErrorSums()
    for sums in partial {
        total.maxError = max(total.maxError, sums.maxError)
        total.relative = max(total.relative, sums.relative)
        total.absoluteError += sums.absoluteError
        total.signal += sums.signal
        total.noise += sums.noise
    }
    return errorMetricsFromSums(
        count: count, maxError: total.maxError, relative: total.relative, absoluteError: total.absoluteError,
        signal: total.signal, noise: total.noise)
}

/// Lane-wise running sums and maxima of one chunk.
///
/// Eight lanes, fed twice per 16-value step: five accumulators of SIMD16 would need 20
/// SSE registers, and the spills cost more than the narrower vectors.
private struct ErrorLanes {
    typealias Lanes = SIMD8<Float>
    var maxError = Lanes()
    var relative = Lanes()
    var absoluteError = Lanes()
    var signal = Lanes()
    var noise = Lanes()

    @inline(__always)
    mutating func add(_ w: FloatLanes, _ restored: FloatLanes, threshold: Float) {
        add(w.lowHalf, restored.lowHalf, threshold: Lanes(repeating: threshold))
        add(w.highHalf, restored.highHalf, threshold: Lanes(repeating: threshold))
    }

    @inline(__always)
    private mutating func add(_ w: Lanes, _ restored: Lanes, threshold: Lanes) {
        let difference = w - restored
        let error = unsafeBitCast(unsafeBitCast(difference, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7fff_ffff), to: Lanes.self)
        let magnitude = unsafeBitCast(unsafeBitCast(w, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7fff_ffff), to: Lanes.self)
        maxError = maxError.replacing(with: error, where: error .> maxError)
        // Lanes at or below the threshold (including zero padding) divide harmlessly, then drop out.
        let ratio = (error / magnitude).replacing(with: Lanes(), where: magnitude .<= threshold)
        relative = relative.replacing(with: ratio, where: ratio .> relative)
        absoluteError += error
        signal += w * w
        noise += difference * difference
    }

    @inline(__always)
    mutating func fold(into sums: inout BaselineErrorSums) {
        sums.absoluteError += Double(absoluteError.sum())
        sums.signal += Double(signal.sum())
        sums.noise += Double(noise.sum())
        absoluteError = Lanes()
        signal = Lanes()
        noise = Lanes()
    }
}

/// One chunk's sums, walking it block by block so that each step uses one broadcast scale.
private func baselineChunkSums<Source: LaneSource>(
    _ source: Source, _ range: Range<Int>, _ quantized: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>,
    _ blockLength: Int, _ threshold: Float
) -> BaselineErrorSums {
    var sums = BaselineErrorSums()
    var lanes = ErrorLanes()
    var steps = 0
    let codes = UnsafeRawPointer(quantized)
    var index = range.lowerBound
    while index < range.upperBound {
        let block = index / blockLength
        let end = min(range.upperBound, (block + 1) * blockLength)
        let scale = FloatLanes(repeating: scales[block])
        while index + laneCount <= end {
            let restored = floatLanes(codes.loadUnaligned(fromByteOffset: index, as: SIMD16<Int8>.self)) * scale
            lanes.add(source.finiteLanes(at: index), restored, threshold: threshold)
            index += laneCount
            steps += 1
            if steps == foldInterval {
                lanes.fold(into: &sums)
                steps = 0
            }
        }
        if index < end {
            let available = end - index
            var q = SIMD16<Int8>()
            for lane in 0..<available { q[lane] = quantized[index + lane] }
            // Zero lanes add nothing: w = 0 and q = 0 give error 0, and 0 is not above the threshold.
            lanes.add(source.partialLanes(at: index, available: available), floatLanes(q) * scale, threshold: threshold)
            index = end
        }
    }
    lanes.fold(into: &sums)
    for lane in 0..<8 {
        sums.maxError = max(sums.maxError, lanes.maxError[lane])
        sums.relative = max(sums.relative, lanes.relative[lane])
    }
    return sums
}
