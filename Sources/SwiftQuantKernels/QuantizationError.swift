import CSwiftQuantKernels
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
    return errorMetrics(
        EncodedValues(base: rawBase(UnsafeRawBufferPointer(original)), encoding: .float32, count: original.count),
        values: values, scales: scales)
}

/// The metrics against little-endian `encoded` originals, decoded in registers (no Float32
/// copy), as ``quantizeSymmetric(encoded:encoding:shape:granularity:values:scales:)`` reads them.
/// The originals must be finite, which quantization has already checked.
public func quantizationError(
    encoded: UnsafeRawBufferPointer, encoding: FloatEncoding,
    values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    precondition(encoded.count == values.count * encoding.byteWidth, "encoded byte count does not match the value count")
    return errorMetrics(EncodedValues(base: rawBase(encoded), encoding: encoding, count: values.count), values: values, scales: scales)
}

// MARK: - Implementation

/// Partial sums of one reduction chunk, as the C kernels compute them.
typealias ErrorSums = sqk_error_sums

extension ErrorSums {
    /// Adds chunk sums in order (Double sums in a fixed order: independent of threads).
    mutating func add(_ chunks: [ErrorSums]) {
        for sums in chunks {
            max_error = max(max_error, sums.max_error)
            relative = max(relative, sums.relative)
            absolute_error += sums.absolute_error
            signal += sums.signal
            noise += sums.noise
        }
    }

    /// The metrics of `count` values whose sums these are: mean |error|, relative error in
    /// percent and SNR in dB.
    func metrics(count: Int) -> QuantizationErrorMetrics {
        guard count > 0 else { return .empty }
        let n = Double(count)
        let snr = 10 * log10((signal / n) / (noise / n + 1e-10))
        return QuantizationErrorMetrics(
            maxAbsError: max_error, meanAbsError: Float(absolute_error / n),
            relativeErrorPercent: relative * 100, snrDecibels: Float(snr))
    }
}

/// The four metrics, from per-chunk sums that the C kernels of ``KernelISA/active`` compute in
/// a fixed order (see `sqk_error_sums_range`), combined in chunk order: the result depends
/// on neither the variant nor the thread count.
func errorMetrics(
    _ source: EncodedValues, values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    guard source.count > 0 else { return .empty }
    // Only values above 10 % of max|w| count for the relative error; the bit-pattern absmax
    // is cheap, and knowing the threshold up front leaves one pass over the data.
    var total = ErrorSums()
    total.add(errorChunkSums(source, values: values, scales: scales, threshold: kernelAbsmax(source) * 0.1))
    return total.metrics(count: source.count)
}

/// The sums of every reduction chunk of `source` (chunks start at its first value), in order.
/// Adding them in order to an ``ErrorSums`` gives the metrics of the whole; a tensor measured
/// in slices that each start on a whole-tensor chunk boundary gets the same chunks.
func errorChunkSums(
    _ source: EncodedValues, values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>, threshold: Float
) -> [ErrorSums] {
    let count = source.count
    guard count > 0, let quantized = values.baseAddress, let scaleBase = scales.baseAddress else { return [] }
    precondition(count % scales.count == 0, "scales do not divide the values into equal blocks")
    let blockLength = count / scales.count
    let isa = KernelISA.active.rawValue
    let chunks = reductionChunkCount(count)
    var partial = [ErrorSums](repeating: ErrorSums(), count: chunks)
    partial.withUnsafeMutableBufferPointer { partial in
        parallelRanges(chunks) { range in
            for chunk in range {
                partial[chunk] = chunkSums(
                    isa, source, reductionChunkRange(chunk, count: count), quantized, scaleBase, blockLength, threshold)
            }
        }
    }
    return partial
}

/// One chunk's sums: `source[range]` against `quantized[range] × scales[index / blockLength]`,
/// with variant `isa` (read on the calling thread before any worker starts).
func chunkSums(
    _ isa: Int32, _ source: EncodedValues, _ range: Range<Int>, _ quantized: UnsafePointer<Int8>,
    _ scales: UnsafePointer<Float>, _ blockLength: Int, _ threshold: Float
) -> ErrorSums {
    var sums = ErrorSums()
    sqk_error_sums_range(
        isa, source.encoding.kernelEncoding, source.base, quantized, scales, blockLength, range.lowerBound, range.upperBound,
        threshold, &sums)
    return sums
}

/// The metrics from whole-tensor sums (the Swift SIMD baseline's path to the same formula).
func errorMetricsFromSums(
    count: Int, maxError: Float, relative: Float, absoluteError: Double, signal: Double, noise: Double
) -> QuantizationErrorMetrics {
    ErrorSums(max_error: maxError, relative: relative, absolute_error: absoluteError, signal: signal, noise: noise)
        .metrics(count: count)
}
