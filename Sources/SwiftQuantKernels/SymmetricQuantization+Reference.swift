import SwiftQuantCore
// Swift mirrors of rotalabs_accel's `quantization/symmetric.py`:
// quantize_symmetric(tensor, dim), dequantize(q, scale, dim), quantize_weight_per_channel(weight)
// and calculate_quantization_error(original, q, scale). They share the SIMD kernels of
// `quantizeSymmetric(_:granularity:)`, so both spellings give the same bits.

/// A dense, row-major INT8 tensor: the `quantized` half of the reference's `(quantized, scale)`.
public struct Int8Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var storage: [Int8]

    /// Creates a tensor; throws when the storage does not match the shape.
    public init(shape: [Int], storage: [Int8]) throws(KernelError) {
        guard let count = shape.checkedElementCount, count == storage.count else {
            throw .shapeMismatch(expected: shape, elements: storage.count)
        }
        self.shape = shape
        self.storage = storage
    }

    init(uncheckedShape shape: [Int], storage: [Int8]) {
        self.shape = shape
        self.storage = storage
    }

    /// The codes of a weight with 8-bit codes (symmetric INT8 or Q8_0), copied; its scales are
    /// ``FloatTensor/init(scalesOf:)``.
    public init(_ weight: QuantizedWeight) {
        self.init(uncheckedShape: weight.shape, storage: weight.int8Codes)
    }
}

extension FloatTensor {
    /// The scales of `weight` as the reference shapes them for `dimension`-style calls: `[]`
    /// for one scale, `[rows]` per channel, `[rows, blocks per row]` for blocks along rows.
    public init(scalesOf weight: QuantizedWeight) {
        let rows = matrixView(of: weight.shape).rows
        let shape: [Int] = switch weight.scales.count {
        case 1 where weight.granularity == .perTensor: []
        case rows where weight.granularity == .perChannel: [rows]
        default: [rows, weight.scales.count / max(rows, 1)]
        }
        self.init(uncheckedShape: shape, storage: weight.scales)
    }
}

extension QuantizedWeight {
    /// A symmetric INT8 weight from the reference API's `(quantized, scale)` pair, with the
    /// scales laid out as `granularity` lays them out.
    ///
    /// - Throws: ``KernelError/shapeMismatch(expected:elements:)`` when the scale count does not fit.
    public init(_ quantized: Int8Tensor, scale: FloatTensor, granularity: Granularity) throws(KernelError) {
        try self.init(
            shape: quantized.shape, scheme: .symmetricInt8(effectiveGranularity(for: quantized.shape, requested: granularity)),
            int8Codes: quantized.storage, scales: scale.storage)
    }
}

/// `quantize_symmetric(tensor, dim=dimension)`: symmetric INT8 with one scale per slice
/// along `dimension`, or one scale for the whole tensor when `dimension` is `nil`.
///
/// As in the reference, `dimension` is the dimension that max|w| reduces over, so for a
/// weight `[out, in]`, `dimension: 1` gives one scale per output row (per channel) and
/// `dimension: 0` one per column. The returned `scale` has the shape of `tensor` without
/// `dimension` (`[]` per tensor). Negative dimensions count from the end, as in PyTorch.
///
/// ```swift
/// let (quantized, scale) = try quantizeSymmetric(weight, dimension: 1)
/// let restored = try dequantize(quantized, scale: scale, dimension: 1)
/// ```
public func quantizeSymmetric(
    _ tensor: FloatTensor, dimension: Int?
) throws(KernelError) -> (quantized: Int8Tensor, scale: FloatTensor) {
    guard let dimension else {
        let result = try quantizeSymmetric(tensor, granularity: .perTensor)
        return (Int8Tensor(uncheckedShape: tensor.shape, storage: result.int8Codes),
                FloatTensor(uncheckedShape: [], storage: result.scales))
    }
    let axis = try reductionAxis(dimension, shape: tensor.shape)
    var scaleShape = tensor.shape
    if !scaleShape.isEmpty { scaleShape.remove(at: axis.index) }
    var values = [Int8](repeating: 0, count: tensor.elementCount)
    var scales = [Float](repeating: 1, count: axis.outer * axis.inner)
    try tensor.storage.withUnsafeBufferPointer { (input) throws(KernelError) in
        try values.withUnsafeMutableBufferPointer { (output) throws(KernelError) in
            try scales.withUnsafeMutableBufferPointer { (scaleOutput) throws(KernelError) in
                if axis.inner == 1 {
                    // Reducing over the last dimension is per channel over [outer, length].
                    try quantize(
                        Float32Lanes(input), shape: [axis.outer, axis.length], granularity: .perChannel,
                        values: output, scales: scaleOutput)
                } else {
                    try quantizeStrided(Float32Lanes(input), axis, values: output, scales: scaleOutput)
                }
            }
        }
    }
    return (Int8Tensor(uncheckedShape: tensor.shape, storage: values),
            FloatTensor(uncheckedShape: scaleShape, storage: scales))
}

/// `quantize_weight_per_channel(weight)`: one scale per output row.
///
/// The reference accepts only 2-D weights; here an N-D weight is treated as
/// `[shape[0], rest]`, like ``Granularity/perChannel``. `scales` has shape `[shape[0]]`.
public func quantizeWeightPerChannel(
    _ weight: FloatTensor
) throws(KernelError) -> (quantized: Int8Tensor, scales: FloatTensor) {
    let result = try quantizeSymmetric(weight, granularity: .perChannel)
    return (Int8Tensor(uncheckedShape: weight.shape, storage: result.int8Codes),
            FloatTensor(uncheckedShape: [weight.rowsAndColumns.rows], storage: result.scales))
}

/// `dequantize(q, scale, dim)`: `Float(q) × scale`, in Float32.
///
/// `dimension` is the one passed to ``quantizeSymmetric(_:dimension:)`` (`nil` for a
/// single scale). The reference's `dequantize` instead names the axis the scale is
/// broadcast along and returns float16 by default; here the result is always Float32.
/// A 1-D `scale` of a 2-D tensor's row count is also accepted with `dimension: nil`, the
/// reference's default for per-channel scales. Throws `shapeMismatch` when `scale` does
/// not fit.
public func dequantize(
    _ quantized: Int8Tensor, scale: FloatTensor, dimension: Int?
) throws(KernelError) -> FloatTensor {
    let axis = try broadcastAxis(of: scale, for: quantized.shape, dimension: dimension)
    var output = [Float](repeating: 0, count: quantized.storage.count)
    quantized.storage.withUnsafeBufferPointer { values in
        scale.storage.withUnsafeBufferPointer { scales in
            output.withUnsafeMutableBufferPointer { output in
                guard let axis else {
                    dequantize(values: values, scales: scales, into: output)
                    return
                }
                dequantizeStrided(values, scales, axis, into: output)
            }
        }
    }
    return FloatTensor(uncheckedShape: quantized.shape, storage: output)
}

/// `calculate_quantization_error(original, q, scale, dim)`: the four metrics of
/// ``QuantizationErrorMetrics``, against `Float(q) × scale` in Float32.
///
/// `dimension` is read as in ``dequantize(_:scale:dimension:)``. Throws `shapeMismatch`
/// when `original`, `quantized` and `scale` do not fit together.
public func calculateQuantizationError(
    original: FloatTensor, quantized: Int8Tensor, scale: FloatTensor, dimension: Int? = nil
) throws(KernelError) -> QuantizationErrorMetrics {
    guard original.shape == quantized.shape else {
        throw .shapeMismatch(expected: original.shape, elements: quantized.storage.count)
    }
    if try broadcastAxis(of: scale, for: quantized.shape, dimension: dimension) == nil {
        // Scales laid out as blocks of consecutive values: the fused metrics kernel applies.
        return original.storage.withUnsafeBufferPointer { input in
            quantized.storage.withUnsafeBufferPointer { values in
                scale.storage.withUnsafeBufferPointer { scales in
                    errorMetrics(Float32Lanes(input), values: values, scales: scales)
                }
            }
        }
    }
    let restored = try dequantize(quantized, scale: scale, dimension: dimension)
    // Float(q) × scale again gives back `restored` exactly, so a per-element scale of 1
    // over the restored values yields the same metrics from the same kernel.
    let restoredCodes = restoredAsBlocks(restored)
    return original.storage.withUnsafeBufferPointer { input in
        restoredCodes.values.withUnsafeBufferPointer { values in
            restoredCodes.scales.withUnsafeBufferPointer { scales in
                errorMetrics(Float32Lanes(input), values: values, scales: scales)
            }
        }
    }
}

// MARK: - Reductions over an inner dimension

/// A tensor seen as `[outer, length, inner]` around the reduced dimension.
struct ReductionAxis: Equatable {
    var index: Int
    var outer: Int
    var length: Int
    var inner: Int
}

func reductionAxis(_ dimension: Int, shape: [Int]) throws(KernelError) -> ReductionAxis {
    // A scalar has one implicit dimension, as torch treats dim 0 / -1 of a 0-d tensor.
    let dims = shape.isEmpty ? [1] : shape
    let index = dimension < 0 ? dimension + dims.count : dimension
    guard dims.indices.contains(index) else { throw .invalidDimension(dimension, rank: shape.count) }
    let outer = dims[..<index].reduce(1, *)
    let inner = dims[(index + 1)...].reduce(1, *)
    return ReductionAxis(index: shape.isEmpty ? 0 : index, outer: outer, length: dims[index], inner: inner)
}

/// `nil` when the scales already form consecutive blocks (per tensor, or per slice of the
/// last dimension); otherwise the strided axis. Throws when `scale` has the wrong shape.
private func broadcastAxis(
    of scale: FloatTensor, for shape: [Int], dimension: Int?
) throws(KernelError) -> ReductionAxis? {
    let count = shape.checkedElementCount ?? 0
    guard let dimension else {
        if scale.elementCount == 1 { return nil }
        // The reference's default for a 1-D scale of a 2-D tensor: one scale per row.
        if shape.count == 2, scale.shape == [shape[0]] { return nil }
        throw .shapeMismatch(expected: shape, elements: scale.elementCount)
    }
    let axis = try reductionAxis(dimension, shape: shape)
    guard scale.elementCount == axis.outer * axis.inner, count == axis.outer * axis.length * axis.inner else {
        throw .shapeMismatch(expected: shape, elements: scale.elementCount)
    }
    return axis.inner == 1 || count == 0 ? nil : axis
}

/// Quantization with one scale per `(outer, inner)` position, reducing over `length`.
/// Lanes run along `inner`, where the values of neighbouring scales sit side by side.
private func quantizeStrided(
    _ source: Float32Lanes, _ axis: ReductionAxis,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    let (length, inner) = (axis.length, axis.inner)
    guard source.count > 0, let output = values.baseAddress, let scaleOutput = scales.baseAddress else { return }
    var firstBad: Int?
    for outer in 0..<axis.outer {
        let slab = outer * length * inner
        var column = 0
        while column < inner {
            let width = min(laneCount, inner - column)
            var magnitude = Int32Lanes()
            for position in 0..<length {
                magnitude = laneMax(magnitude, magnitudeBits(
                    stridedLanes(source, slab + position * inner + column, width)))
            }
            var scaleLanes = FloatLanes(repeating: 1)
            for lane in 0..<width {
                let maximum = Float(bitPattern: UInt32(magnitude[lane]))
                if !maximum.isFinite {
                    // The smallest flat index among bad lanes is found after the loop.
                    let bad = (0..<length).map { slab + $0 * inner + column + lane }
                        .first { !source.value(at: $0).isFinite }!
                    firstBad = min(firstBad ?? bad, bad)
                }
                scaleLanes[lane] = symmetricScale(absmax: maximum)
                scaleOutput[outer * inner + column + lane] = scaleLanes[lane]
            }
            for position in 0..<length {
                let start = slab + position * inner + column
                let quantized = quantizedLanes(stridedLanes(source, start, width), dividedBy: scaleLanes)
                for lane in 0..<width { output[start + lane] = quantized[lane] }
            }
            column += width
        }
    }
    if let firstBad { throw .nonFiniteValue(index: firstBad, value: source.value(at: firstBad)) }
}

@inline(__always)
private func stridedLanes(_ source: Float32Lanes, _ start: Int, _ width: Int) -> FloatLanes {
    width == laneCount ? source.lanes(at: start) : source.partialLanes(at: start, available: width)
}

private func dequantizeStrided(
    _ values: UnsafeBufferPointer<Int8>, _ scales: UnsafeBufferPointer<Float>, _ axis: ReductionAxis,
    into output: UnsafeMutableBufferPointer<Float>
) {
    for outer in 0..<axis.outer {
        for position in 0..<axis.length {
            let start = (outer * axis.length + position) * axis.inner
            for column in 0..<axis.inner {
                output[start + column] = Float(values[start + column]) * scales[outer * axis.inner + column]
            }
        }
    }
}

/// Each restored value as its own block: code 1 with scale `restored[k]`, since
/// `Float(1) × restored[k]` reproduces it exactly.
private func restoredAsBlocks(_ restored: FloatTensor) -> (values: [Int8], scales: [Float]) {
    ([Int8](repeating: 1, count: restored.elementCount), restored.storage)
}
