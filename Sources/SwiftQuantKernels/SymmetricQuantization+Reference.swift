import SwiftQuantCore
// Swift mirrors of rotalabs_accel's `quantization/symmetric.py` (rotalabs-accel 1.1.1):
// quantize_symmetric(tensor, bits, dim), dequantize(q, scale, dtype, dim),
// quantize_weight_per_channel(weight) and calculate_quantization_error(original, q, scale, dim),
// every parameter with the reference's meaning. Float32 tensors share the SIMD kernels of
// `quantizeSymmetric(_:granularity:)`; Float16/BFloat16 tensors use the reference arithmetic of
// ReferenceArithmetic.swift. Tests/Interop/check_rotalabs.py compares them with rotalabs-accel.

/// How the scales of an ``Int8Tensor`` were laid out when it was quantized: what the
/// checked bridge `QuantizedWeight.init(_:scale:)` relies on, so per-column scales can
/// never be relabelled per channel.
public enum Int8ScaleLayout: Sendable, Hashable {
    /// Built by hand: the bridge refuses it.
    case unknown
    /// One scale (`quantizeSymmetric(_, dimension: nil)`).
    case perTensor
    /// One scale per slice, max|w| reduced over `dimension` (non-negative).
    case reduced(dimension: Int)
}

/// A dense, row-major INT8 tensor: the `quantized` half of the reference's `(quantized, scale)`.
public struct Int8Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var storage: [Int8]
    /// How this tensor's scales were computed; ``Int8ScaleLayout/unknown`` unless it came
    /// from ``quantizeSymmetric(_:bits:dimension:)`` or ``quantizeWeightPerChannel(_:)``.
    public private(set) var scaleLayout: Int8ScaleLayout = .unknown

    /// Creates a tensor; throws when the storage does not match the shape.
    public init(shape: [Int], storage: [Int8]) throws(KernelError) {
        guard let count = shape.checkedElementCount, count == storage.count else {
            throw .shapeMismatch(expected: shape, elements: storage.count)
        }
        self.shape = shape
        self.storage = storage
    }

    package init(uncheckedShape shape: [Int], storage: [Int8], layout: Int8ScaleLayout) {
        self.shape = shape
        self.storage = storage
        self.scaleLayout = layout
    }

    /// The codes of a weight with 8-bit codes (symmetric INT8 or Q8_0), copied; its scales are
    /// `FloatTensor.init(scalesOf:)`.
    public init(_ weight: QuantizedWeight) {
        let layout: Int8ScaleLayout = switch weight.scheme {
        case .symmetricInt8(.perTensor): .perTensor
        case .symmetricInt8(.perChannel) where weight.shape.count == 2: .reduced(dimension: 1)
        default: .unknown
        }
        self.init(uncheckedShape: weight.shape, storage: weight.int8Codes, layout: layout)
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
    /// The checked bridge from the mirror's `(quantized, scale)` to a symmetric INT8 weight.
    ///
    /// Accepts only layouts QuantizedLinear can run: one scale (per tensor), or a 2-D weight
    /// quantized with max|w| over dimension 1 (one scale per row, per channel). Per-column
    /// scales (`dimension: 0`) and hand-built ``Int8Tensor``s are refused, because their
    /// count can equal the row count on a square weight and would silently give wrong outputs.
    ///
    /// - Throws: `KernelError.unbridgeableScales(shape:scaleShape:layout:)`.
    public init(_ quantized: Int8Tensor, scale: FloatTensor) throws(KernelError) {
        let shape = quantized.shape
        switch quantized.scaleLayout {
        case .perTensor where scale.elementCount == 1,
             .reduced(dimension: 0) where shape.count <= 1 && scale.elementCount == 1:
            try self.init(shape: shape, scheme: .symmetricInt8(.perTensor), int8Codes: quantized.storage, scales: scale.storage)
        case .reduced(dimension: 1) where shape.count == 2 && scale.shape == [shape[0]]:
            try self.init(shape: shape, scheme: .symmetricInt8(.perChannel), int8Codes: quantized.storage, scales: scale.storage)
        default:
            throw .unbridgeableScales(shape: shape, scaleShape: scale.shape, layout: "\(quantized.scaleLayout)")
        }
    }
}

/// `quantize_symmetric(tensor, bits=bits, dim=dimension)` on a Float32 tensor.
///
/// `dimension` is the dimension max|w| reduces over (`nil`: one scale for the whole tensor),
/// so for a weight `[out, in]`, `dimension: 1` gives one scale per output row (per channel)
/// and `dimension: 0` one per column. The returned `scale` has the shape of `tensor` without
/// `dimension` (`[]` per tensor). Negative dimensions count from the end, as in PyTorch.
/// Float32 arithmetic is the reference's arithmetic for Float32 tensors: the codes and scales
/// are rotalabs-accel's, bit for bit.
///
/// ```swift
/// let (quantized, scale) = try quantizeSymmetric(weight, dimension: 1)
/// let restored = try dequantize(quantized, scale: scale, dtype: .float32)   // per row: dim None/0
/// ```
///
/// - Throws: `KernelError.unsupportedBits(_:)` unless `bits` is 8 (the reference asserts it),
///   `KernelError.invalidDimension(_:rank:)`, `KernelError.emptyReduction(shape:dimension:)`
///   where torch cannot take the max, and `KernelError.nonFiniteValue(index:value:)` for
///   NaN or infinite weights (the reference does not check them and returns meaningless codes).
public func quantizeSymmetric(
    _ tensor: FloatTensor, bits: Int = 8, dimension: Int? = nil
) throws(KernelError) -> (quantized: Int8Tensor, scale: FloatTensor) {
    guard bits == 8 else { throw .unsupportedBits(bits) }
    guard let dimension else {
        guard tensor.elementCount > 0 else { throw .emptyReduction(shape: tensor.shape, dimension: nil) }
        let result = try quantizeSymmetric(tensor, granularity: .perTensor)
        return (Int8Tensor(uncheckedShape: tensor.shape, storage: result.int8Codes, layout: .perTensor),
                FloatTensor(uncheckedShape: [], storage: result.scales))
    }
    let axis = try reductionAxis(dimension, shape: tensor.shape)
    if axis.length == 0 && axis.outer * axis.inner > 0 {
        throw .emptyReduction(shape: tensor.shape, dimension: dimension)
    }
    var scaleShape = tensor.shape
    if !scaleShape.isEmpty { scaleShape.remove(at: axis.index) }
    var values = [Int8](repeating: 0, count: tensor.elementCount)
    var scales = [Float](repeating: 1, count: axis.outer * axis.inner)
    try tensor.storage.withUnsafeBufferPointer { (input) throws(KernelError) in
        try values.withUnsafeMutableBufferPointer { (output) throws(KernelError) in
            try scales.withUnsafeMutableBufferPointer { (scaleOutput) throws(KernelError) in
                if axis.inner == 1 {
                    // Reducing over the last dimension is per channel over [outer, length].
                    try kernelQuantize(
                        EncodedValues(base: rawBase(UnsafeRawBufferPointer(input)), encoding: .float32, count: input.count),
                        shape: [axis.outer, axis.length], granularity: .perChannel, values: output, scales: scaleOutput)
                } else {
                    try quantizeStrided(Float32Lanes(input), axis, values: output, scales: scaleOutput)
                }
            }
        }
    }
    return (Int8Tensor(uncheckedShape: tensor.shape, storage: values, layout: .reduced(dimension: axis.index)),
            FloatTensor(uncheckedShape: scaleShape, storage: scales))
}

/// `quantize_symmetric(tensor, bits=bits, dim=dimension)` on a Float32, Float16 or BFloat16
/// tensor, computed as PyTorch computes it: `amax`, `max / 127`, the zero → 1 substitution,
/// `w / scale`, round half to even and the clamp, each op rounded to `tensor.dtype`.
///
/// On Float16 and BFloat16 this is rotalabs-accel's result bit for bit, including its
/// quirks: a Float16 slice with max|w| below about 3.8e-6 has its scale underflow to 0,
/// replaced by 1, so all its codes are 0. Scales are returned as Float32 (`scale.float()`).
/// `dimension` means what ``quantizeSymmetric(_:bits:dimension:)`` says. Throws as it does.
public func quantizeSymmetric(
    _ tensor: TypedFloatTensor, bits: Int = 8, dimension: Int? = nil
) throws(KernelError) -> (quantized: Int8Tensor, scale: FloatTensor) {
    guard bits == 8 else { throw .unsupportedBits(bits) }
    if tensor.dtype == .float32 { return try quantizeSymmetric(tensor.float32, bits: bits, dimension: dimension) }
    let referenceAxis: ReferenceAxis
    var scaleShape: [Int] = []
    let layout: Int8ScaleLayout
    if let dimension {
        let axis = try reductionAxis(dimension, shape: tensor.shape)
        if axis.length == 0 && axis.outer * axis.inner > 0 {
            throw .emptyReduction(shape: tensor.shape, dimension: dimension)
        }
        scaleShape = tensor.shape
        if !scaleShape.isEmpty { scaleShape.remove(at: axis.index) }
        referenceAxis = ReferenceAxis(outer: axis.outer, length: axis.length, inner: axis.inner)
        layout = .reduced(dimension: axis.index)
    } else {
        guard tensor.elementCount > 0 else { throw .emptyReduction(shape: tensor.shape, dimension: nil) }
        referenceAxis = ReferenceAxis(outer: 1, length: tensor.elementCount, inner: 1)
        layout = .perTensor
    }
    var values = [Int8](repeating: 0, count: tensor.elementCount)
    var scales = [Float](repeating: 1, count: referenceAxis.outer * referenceAxis.inner)
    let encoded = tensor.encoded
    try encoded.withUnsafeBufferPointer { (encodedBuffer) throws(KernelError) in
        let bytes = UnsafeRawBufferPointer(encodedBuffer)
        try values.withUnsafeMutableBufferPointer { (output) throws(KernelError) in
            try scales.withUnsafeMutableBufferPointer { (scaleOutput) throws(KernelError) in
                try referenceQuantize(EncodedElements(bytes, tensor.dtype), referenceAxis, values: output, scales: scaleOutput)
            }
        }
    }
    return (Int8Tensor(uncheckedShape: tensor.shape, storage: values, layout: layout),
            FloatTensor(uncheckedShape: scaleShape, storage: scales))
}

/// `quantize_weight_per_channel(weight)`: `quantize_symmetric(weight, bits=8, dim=1)`, one
/// scale per output row. `scales` has shape `[shape[0]]`.
///
/// - Throws: `KernelError.notAMatrix(shape:)` unless `weight` is 2-D (the reference asserts it),
///   and what ``quantizeSymmetric(_:bits:dimension:)`` throws.
public func quantizeWeightPerChannel(
    _ weight: FloatTensor
) throws(KernelError) -> (quantized: Int8Tensor, scales: FloatTensor) {
    guard weight.shape.count == 2 else { throw .notAMatrix(shape: weight.shape) }
    let result = try quantizeSymmetric(weight, bits: 8, dimension: 1)
    return (result.quantized, result.scale)
}

/// `quantize_weight_per_channel(weight)` on a Float32, Float16 or BFloat16 weight, in the
/// weight's dtype as ``quantizeSymmetric(_:bits:dimension:)-(TypedFloatTensor,_,_)`` computes.
public func quantizeWeightPerChannel(
    _ weight: TypedFloatTensor
) throws(KernelError) -> (quantized: Int8Tensor, scales: FloatTensor) {
    guard weight.shape.count == 2 else { throw .notAMatrix(shape: weight.shape) }
    let result = try quantizeSymmetric(weight, bits: 8, dimension: 1)
    return (result.quantized, result.scale)
}

/// `dequantize(quantized, scale, dtype=dtype, dim=dimension)`: `Float(q) × scale` in Float32,
/// then rounded to `dtype` (Float16 by default, as in the reference).
///
/// **`dimension` is not the `dimension` of ``quantizeSymmetric(_:bits:dimension:)``.** It is
/// the reference's behaviour, mirrored as is: when `scale` is 1-D and `quantized` is 2-D,
/// `dimension` `nil` or `0` means the scale runs along the rows (one scale per output row, what
/// ``quantizeWeightPerChannel(_:)`` and `quantizeSymmetric(w, dimension: 1)` produce), and any
/// other value means one scale per column (what `quantizeSymmetric(w, dimension: 0)` produces).
/// In every other case `dimension` is ignored and `scale` broadcasts against `quantized` with
/// PyTorch's rules (a 0-d scale is per tensor); the result has the broadcast shape.
///
/// | quantized with | dequantize with |
/// |---|---|
/// | `dimension: nil` | any `dimension` |
/// | `dimension: 1` / ``quantizeWeightPerChannel(_:)`` | `dimension: nil` or `0` |
/// | `dimension: 0` | `dimension: 1` |
///
/// - Throws: `KernelError.broadcastMismatch(shape:other:)` when the shapes do not broadcast,
///   `KernelError.unsupportedEncoding(_:)` for `.float64`.
public func dequantize(
    _ quantized: Int8Tensor, scale: FloatTensor, dtype: FloatEncoding = .float16, dimension: Int? = nil
) throws(KernelError) -> TypedFloatTensor {
    guard dtype != .float64 else { throw .unsupportedEncoding(dtype) }
    let (shape, products) = try broadcastProducts(quantized, scale: scale, dimension: dimension)
    let storage = dtype == .float32 ? products : products.map { roundedFloat($0, to: dtype) }
    return TypedFloatTensor(uncheckedDType: dtype, shape: shape, storage: storage)
}

/// `calculate_quantization_error(original, quantized, scale, dim=dimension)` on a Float32 tensor.
///
/// `dimension` is passed to ``dequantize(_:scale:dtype:dimension:)`` with that function's
/// meaning, as the reference does: per-row scales need `nil` or `0`, per-column scales `1`.
/// The result's fields map to the reference's keys as
///
/// | reference key | Swift property |
/// |---|---|
/// | `max_abs_error` | `QuantizationErrorMetrics.maxAbsError` |
/// | `mean_abs_error` | `QuantizationErrorMetrics.meanAbsError` |
/// | `relative_error_pct` | `QuantizationErrorMetrics.relativeErrorPercent` |
/// | `snr_db` | `QuantizationErrorMetrics.snrDecibels` |
///
/// (also readable as `metrics[referenceKey: "snr_db"]`). An all-zero original gives an SNR of
/// −infinity and a NaN SNR stays NaN, as in the reference.
///
/// - Throws: `KernelError.shapeMismatch(expected:elements:)` when the dequantized tensor does
///   not have `original`'s shape, `KernelError.broadcastMismatch(shape:other:)`,
///   `KernelError.emptyReduction(shape:dimension:)` for an empty tensor (torch's max raises).
public func calculateQuantizationError(
    original: FloatTensor, quantized: Int8Tensor, scale: FloatTensor, dimension: Int? = nil
) throws(KernelError) -> QuantizationErrorMetrics {
    try calculateQuantizationError(
        original: TypedFloatTensor(original), quantized: quantized, scale: scale, dimension: dimension)
}

/// `calculate_quantization_error(original, quantized, scale, dim=dimension)` measured in the
/// original's dtype, as the reference does: the tensor is dequantized to `original.dtype`, the
/// difference is taken in that dtype and widened to Float32, and the metrics are Float32.
/// See ``calculateQuantizationError(original:quantized:scale:dimension:)-(FloatTensor,_,_,_)``
/// for the key names and the meaning of `dimension`.
public func calculateQuantizationError(
    original: TypedFloatTensor, quantized: Int8Tensor, scale: FloatTensor, dimension: Int? = nil
) throws(KernelError) -> QuantizationErrorMetrics {
    let (shape, products) = try broadcastProducts(quantized, scale: scale, dimension: dimension)
    guard shape == original.shape else {
        throw .shapeMismatch(expected: original.shape, elements: products.count)
    }
    guard original.elementCount > 0 else { throw .emptyReduction(shape: original.shape, dimension: nil) }
    if let bad = original.storage.firstIndex(where: { !$0.isFinite }) {
        throw .nonFiniteValue(index: bad, value: original.storage[bad])
    }
    return original.storage.withUnsafeBufferPointer { input in
        products.withUnsafeBufferPointer { restored in
            referenceMetrics(count: input.count, encoding: original.dtype, original: { Double(input[$0]) }) { restored[$0] }
        }
    }
}

extension QuantizationErrorMetrics {
    /// A metric by the reference's dictionary key: `max_abs_error`, `mean_abs_error`,
    /// `relative_error_pct` or `snr_db`; `nil` for any other key.
    public subscript(referenceKey key: String) -> Float? {
        switch key {
        case "max_abs_error": maxAbsError
        case "mean_abs_error": meanAbsError
        case "relative_error_pct": relativeErrorPercent
        case "snr_db": snrDecibels
        default: nil
        }
    }
}

// MARK: - Broadcasting as PyTorch does

/// `quantized.float() * scale` after the reference's unsqueeze, with PyTorch broadcasting:
/// the broadcast shape and the Float32 products.
private func broadcastProducts(
    _ quantized: Int8Tensor, scale: FloatTensor, dimension: Int?
) throws(KernelError) -> (shape: [Int], products: [Float]) {
    var scaleShape = scale.shape
    if scaleShape.count == 1 && quantized.shape.count == 2 {
        scaleShape = dimension == nil || dimension == 0 ? [scaleShape[0], 1] : [1, scaleShape[0]]
    }
    let shape = try broadcastShape(quantized.shape, scaleShape)
    let count = shape.reduce(1, *)
    let quantizedStrides = broadcastStrides(quantized.shape, to: shape)
    let scaleStrides = broadcastStrides(scaleShape, to: shape)
    var products = [Float](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: shape.count)
    var (qOffset, sOffset) = (0, 0)
    for flat in 0..<count {
        products[flat] = Float(quantized.storage[qOffset]) * scale.storage[sOffset]
        // Odometer increment over the broadcast shape, keeping both offsets in step.
        var axis = shape.count - 1
        while axis >= 0 {
            index[axis] += 1
            qOffset += quantizedStrides[axis]
            sOffset += scaleStrides[axis]
            if index[axis] < shape[axis] { break }
            qOffset -= quantizedStrides[axis] * shape[axis]
            sOffset -= scaleStrides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
    return (shape, products)
}

private func broadcastShape(_ a: [Int], _ b: [Int]) throws(KernelError) -> [Int] {
    let rank = max(a.count, b.count)
    var shape = [Int](repeating: 1, count: rank)
    for axis in 0..<rank {
        let x = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
        let y = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
        guard x == y || x == 1 || y == 1 else { throw .broadcastMismatch(shape: a, other: b) }
        shape[axis] = x == 1 ? y : x
    }
    return shape
}

/// Row-major strides of `shape` aligned to the end of `target`, 0 where broadcast.
private func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        let targetAxis = axis + target.count - shape.count
        strides[targetAxis] = shape[axis] == 1 ? 0 : step
        step *= shape[axis]
    }
    return strides
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
