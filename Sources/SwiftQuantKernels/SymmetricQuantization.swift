import Foundation
/// An INT8 tensor with its Float32 scales, as `quantizeSymmetric` produces it.
///
/// Scales: 1 per tensor; `rows` per channel; `rows × (columns / size)` per group, row-major.
public struct QuantizedTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Int8]
    public var scales: [Float]
    public var granularity: Granularity

    public init(shape: [Int], values: [Int8], scales: [Float], granularity: Granularity) {
        self.shape = shape
        self.values = values
        self.scales = scales
        self.granularity = granularity
    }
}

/// The number of scales a tensor of `shape` gets at `granularity`.
/// Per group needs the row length to be a multiple of the group size (see ``effectiveGranularity(for:requested:)``).
public func scaleCount(shape: [Int], granularity: Granularity) -> Int {
    let (rows, columns) = matrixView(of: shape)
    switch granularity {
    case .perTensor: return 1
    case .perChannel: return rows
    case .perGroup(let size): return rows * (columns / size)
    }
}

/// The granularity actually used: per group falls back to per channel when the row length is
/// not a multiple of the group size. Callers report the fallback as a notice.
public func effectiveGranularity(for shape: [Int], requested: Granularity) -> Granularity {
    if case .perGroup(let size) = requested {
        let columns = matrixView(of: shape).columns
        if size <= 0 || columns % size != 0 { return .perChannel }
    }
    return requested
}

/// Symmetric INT8 quantization with the reference library's semantics:
/// `scale = max|w| / 127` (0 becomes 1), `q = clamp(round_half_even(w / scale), -128, 127)`.
///
/// All arithmetic is Float32, and `w / scale` divides (never multiplies by a reciprocal), so
/// the result equals the reference bit for bit. Throws on the first NaN or infinite weight.
/// Per group falls back to per channel when the row length is not a multiple of the size.
public func quantizeSymmetric(_ tensor: FloatTensor, granularity: Granularity) throws(KernelError) -> QuantizedTensor {
    let granularity = effectiveGranularity(for: tensor.shape, requested: granularity)
    let scaleTotal = scaleCount(shape: tensor.shape, granularity: granularity)
    var values = [Int8](repeating: 0, count: tensor.elementCount)
    var scales = [Float](repeating: 0, count: scaleTotal)
    try tensor.storage.withUnsafeBufferPointer { (input) throws(KernelError) in
        try values.withUnsafeMutableBufferPointer { (output) throws(KernelError) in
            try scales.withUnsafeMutableBufferPointer { (scaleOutput) throws(KernelError) in
                try quantizeSymmetric(
                    input, shape: tensor.shape, granularity: granularity, values: output, scales: scaleOutput)
            }
        }
    }
    return QuantizedTensor(shape: tensor.shape, values: values, scales: scales, granularity: granularity)
}

/// Quantizes into caller-owned buffers, for the streaming converter.
///
/// `granularity` must already be effective (see ``effectiveGranularity(for:requested:)``);
/// `values.count == input.count` and `scales.count == scaleCount(shape:granularity:)`.
public func quantizeSymmetric(
    _ input: UnsafeBufferPointer<Float>, shape: [Int], granularity: Granularity,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    precondition(values.count == input.count)
    precondition(scales.count == scaleCount(shape: shape, granularity: granularity))
    if let bad = firstNonFinite(input) {
        throw .nonFiniteValue(index: bad, value: input[bad])
    }
    let (rows, columns) = matrixView(of: shape)
    let blockLength: Int
    switch granularity {
    case .perTensor: blockLength = input.count
    case .perChannel: blockLength = columns
    case .perGroup(let size): blockLength = size
    }
    guard blockLength > 0, input.count > 0 else {
        for i in 0..<scales.count { scales[i] = 1 }
        return
    }
    _ = rows
    for block in 0..<scales.count {
        let range = block * blockLength..<(block + 1) * blockLength
        var amax: Float = 0
        for i in range { amax = max(amax, abs(input[i])) }
        var scale = amax / 127
        if scale == 0 { scale = 1 }
        scales[block] = scale
        for i in range {
            let scaled = (input[i] / scale).rounded(.toNearestOrEven)
            values[i] = Int8(min(max(scaled, -128), 127))
        }
    }
}

/// The index of the first NaN or infinite value, or `nil`.
public func firstNonFinite(_ input: UnsafeBufferPointer<Float>) -> Int? {
    for i in 0..<input.count where !input[i].isFinite { return i }
    return nil
}

/// `q × scale` for every value, with the scale of each value's block.
public func dequantize(_ tensor: QuantizedTensor) -> FloatTensor {
    let count = tensor.values.count
    let blockLength = count / max(tensor.scales.count, 1)
    var output = [Float](repeating: 0, count: count)
    for i in 0..<count {
        output[i] = Float(tensor.values[i]) * tensor.scales[blockLength == 0 ? 0 : i / blockLength]
    }
    return FloatTensor(uncheckedShape: tensor.shape, storage: output)
}

/// The reference library's quantization error metrics.
public struct QuantizationErrorMetrics: Sendable, Equatable {
    /// max |w − dequantized|.
    public var maxAbsError: Float
    /// mean |w − dequantized|.
    public var meanAbsError: Float
    /// Largest |err| / |w| in percent, over the values with |w| > 10 % of max|w|.
    public var relativeErrorPercent: Float
    /// 10·log10(mean(w²) / (mean(err²) + 1e-10)).
    public var snrDecibels: Float

    public init(maxAbsError: Float, meanAbsError: Float, relativeErrorPercent: Float, snrDecibels: Float) {
        self.maxAbsError = maxAbsError
        self.meanAbsError = meanAbsError
        self.relativeErrorPercent = relativeErrorPercent
        self.snrDecibels = snrDecibels
    }
}

/// Computes ``QuantizationErrorMetrics`` of `quantized` against `original`.
public func quantizationError(original: FloatTensor, quantized: QuantizedTensor) -> QuantizationErrorMetrics {
    let restored = dequantize(quantized).storage
    let w = original.storage
    guard !w.isEmpty else {
        return QuantizationErrorMetrics(maxAbsError: 0, meanAbsError: 0, relativeErrorPercent: 0, snrDecibels: 100)
    }
    var maxAbs: Float = 0, sumAbs: Float = 0, sumSignal: Float = 0, sumNoise: Float = 0, amax: Float = 0
    for i in 0..<w.count {
        let e = abs(w[i] - restored[i])
        maxAbs = max(maxAbs, e)
        sumAbs += e
        sumSignal += w[i] * w[i]
        sumNoise += e * e
        amax = max(amax, abs(w[i]))
    }
    var relative: Float = 0
    let threshold = amax * 0.1
    for i in 0..<w.count where abs(w[i]) > threshold {
        relative = max(relative, abs(w[i] - restored[i]) / abs(w[i]) * 100)
    }
    let n = Float(w.count)
    let snr = 10 * log10(Double(sumSignal / n) / (Double(sumNoise / n) + 1e-10))
    return QuantizationErrorMetrics(
        maxAbsError: maxAbs, meanAbsError: sumAbs / n, relativeErrorPercent: relative, snrDecibels: Float(snr))
}
