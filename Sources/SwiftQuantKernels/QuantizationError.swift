import Foundation
import SwiftQuantCore

/// Computes `QuantizationErrorMetrics` of `quantized` (any scheme with 8-bit codes)
/// against `original`, which must be finite, as quantization requires.
public func quantizationError(original: FloatTensor, quantized: QuantizedWeight) -> QuantizationErrorMetrics {
    precondition(original.elementCount == quantized.elementCount, "original and quantized differ in size")
    return quantized.scheme.scheme.errorMetrics(of: quantized, original: original)
}

/// The metrics of caller-owned buffers, laid out as
/// ``quantizeSymmetric(_:shape:granularity:values:scales:)`` writes them. `original` must be finite.
public func quantizationError(
    original: UnsafeBufferPointer<Float>, values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    precondition(original.count == values.count, "original and quantized differ in size")
    return errorMetrics(Float32Lanes(original), values: values, scales: scales)
}

/// The metrics against little-endian `encoded` originals, decoded in registers (no Float32
/// copy), as ``quantizeSymmetric(encoded:encoding:shape:granularity:values:scales:)`` reads them.
/// The originals must be finite, which quantization has already checked.
public func quantizationError(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding,
    values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    precondition(encoded.count == values.count * encoding.byteWidth, "encoded byte count does not match the value count")
    let base = rawBase(encoded)
    let count = values.count
    switch encoding {
    case .float16: return errorMetrics(Float16Lanes(base: base, count: count), values: values, scales: scales)
    case .bfloat16: return errorMetrics(BFloat16Lanes(base: base, count: count), values: values, scales: scales)
    case .float32: return errorMetrics(Float32Lanes(base: base, count: count), values: values, scales: scales)
    case .float64: return errorMetrics(Float64Lanes(base: base, count: count), values: values, scales: scales)
    }
}

// MARK: - Implementation

/// Partial sums of one reduction chunk.
struct ErrorSums {
    var maxError: Float = 0
    var absoluteError: Double = 0
    var signal: Double = 0
    var noise: Double = 0
    var relative: Float = 0
}

/// Lane accumulators are folded into Double after this many steps, bounding Float32
/// rounding in the sums to about 2⁻¹⁸ relative.
private let foldInterval = 64

func errorMetrics<Source: LaneSource>(
    _ source: Source, values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    let count = source.count
    guard count > 0, values.baseAddress != nil, scales.baseAddress != nil else { return .empty }
    // Only values above 10 % of max|w| count for the relative error; the bit-pattern absmax
    // is cheap, and knowing the threshold up front leaves one pass over the data.
    var total = ErrorSums()
    total.add(errorChunkSums(source, values: values, scales: scales, threshold: parallelAbsmax(source) * 0.1))
    return total.metrics(count: count)
}

/// The sums of every reduction chunk of `source` (chunks start at its first value), in order.
/// Adding them in order to an ``ErrorSums`` gives the metrics of the whole; a tensor measured
/// in slices that each start on a whole-tensor chunk boundary gets the same chunks.
func errorChunkSums<Source: LaneSource>(
    _ source: Source, values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>, threshold: Float
) -> [ErrorSums] {
    let count = source.count
    guard count > 0, let quantized = values.baseAddress, let scaleBase = scales.baseAddress else { return [] }
    precondition(count % scales.count == 0, "scales do not divide the values into equal blocks")
    let blockLength = count / scales.count
    let chunks = reductionChunkCount(count)
    var partial = [ErrorSums](repeating: ErrorSums(), count: chunks)
    partial.withUnsafeMutableBufferPointer { partial in
        parallelRanges(chunks) { range in
            for chunk in range {
                partial[chunk] = chunkSums(
                    source, reductionChunkRange(chunk, count: count), quantized, scaleBase, blockLength, threshold)
            }
        }
    }
    return partial
}

extension ErrorSums {
    /// Adds chunk sums in order (Double sums in a fixed order: independent of threads).
    mutating func add(_ chunks: [ErrorSums]) {
        for sums in chunks {
            maxError = max(maxError, sums.maxError)
            relative = max(relative, sums.relative)
            absoluteError += sums.absoluteError
            signal += sums.signal
            noise += sums.noise
        }
    }

    /// The metrics of `count` values whose sums these are.
    func metrics(count: Int) -> QuantizationErrorMetrics {
        guard count > 0 else { return .empty }
        let n = Double(count)
        let snr = 10 * log10((signal / n) / (noise / n + 1e-10))
        return QuantizationErrorMetrics(
            maxAbsError: maxError, meanAbsError: Float(absoluteError / n),
            relativeErrorPercent: relative * 100, snrDecibels: Float(snr))
    }
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
    mutating func fold(into sums: inout ErrorSums) {
        sums.absoluteError += Double(absoluteError.sum())
        sums.signal += Double(signal.sum())
        sums.noise += Double(noise.sum())
        absoluteError = Lanes()
        signal = Lanes()
        noise = Lanes()
    }
}

/// One chunk's sums, walking it block by block so that each step uses one broadcast scale.
func chunkSums<Source: LaneSource>(
    _ source: Source, _ range: Range<Int>, _ quantized: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>,
    _ blockLength: Int, _ threshold: Float
) -> ErrorSums {
    var sums = ErrorSums()
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
