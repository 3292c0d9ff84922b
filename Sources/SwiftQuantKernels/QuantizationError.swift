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

/// The four metrics, from per-chunk sums that the C kernels of ``KernelISA/active`` compute in
/// a fixed order (see `sqk_error_sums_range`), combined in chunk order: the result depends
/// on neither the variant nor the thread count.
func errorMetrics(
    _ source: EncodedValues, values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>
) -> QuantizationErrorMetrics {
    let count = source.count
    guard count > 0, let quantized = values.baseAddress, let scaleBase = scales.baseAddress else { return .empty }
    precondition(count % scales.count == 0, "scales do not divide the values into equal blocks")
    let blockLength = count / scales.count
    // Only values above 10 % of max|w| count for the relative error; the bit-pattern absmax
    // is cheap, and knowing the threshold up front leaves one pass over the data.
    let threshold = kernelAbsmax(source) * 0.1
    let isa = KernelISA.active.rawValue
    let encoding = source.encoding.kernelEncoding
    let chunks = reductionChunkCount(count)
    var partial = [sqk_error_sums](repeating: sqk_error_sums(), count: chunks)
    partial.withUnsafeMutableBufferPointer { partial in
        parallelRanges(chunks) { range in
            for chunk in range {
                let values = reductionChunkRange(chunk, count: count)
                sqk_error_sums_range(
                    isa, encoding, source.base, quantized, scaleBase, blockLength, values.lowerBound, values.upperBound,
                    threshold, &partial[chunk])
            }
        }
    }
    var maxError: Float = 0, relative: Float = 0
    var absoluteError: Double = 0, signal: Double = 0, noise: Double = 0
    for sums in partial {
        maxError = max(maxError, sums.max_error)
        relative = max(relative, sums.relative)
        absoluteError += sums.absolute_error
        signal += sums.signal
        noise += sums.noise
    }
    return errorMetricsFromSums(
        count: count, maxError: maxError, relative: relative, absoluteError: absoluteError, signal: signal, noise: noise)
}

/// The metrics from whole-tensor sums: mean |error|, relative error in percent and SNR in dB.
func errorMetricsFromSums(
    count: Int, maxError: Float, relative: Float, absoluteError: Double, signal: Double, noise: Double
) -> QuantizationErrorMetrics {
    let n = Double(count)
    let snr = 10 * log10((signal / n) / (noise / n + 1e-10))
    return QuantizationErrorMetrics(
        maxAbsError: maxError, meanAbsError: Float(absoluteError / n),
        relativeErrorPercent: relative * 100, snrDecibels: Float(snr))
}
