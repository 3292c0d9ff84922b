/// Errors from the quantization kernels.
public enum KernelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Storage and shape disagree.
    case shapeMismatch(expected: [Int], elements: Int)
    /// A weight is NaN or infinite; `index` is the first bad flat index.
    case nonFiniteValue(index: Int, value: Float)
    /// A group size that is zero or negative.
    case invalidGroupSize(Int)
    /// A reduction dimension outside the tensor's dimensions.
    case invalidDimension(Int, rank: Int)
    /// A bit width other than 8 (the reference asserts `bits == 8`).
    case unsupportedBits(Int)
    /// A function that takes only 2-D weights got another rank.
    case notAMatrix(shape: [Int])
    /// A max over no values: an empty tensor per tensor, or a zero-length reduced dimension.
    case emptyReduction(shape: [Int], dimension: Int?)
    /// An element type the operation does not compute in (Float64 in Float32 storage).
    case unsupportedEncoding(FloatEncoding)
    /// Two shapes that do not broadcast together under PyTorch's rules.
    case broadcastMismatch(shape: [Int], other: [Int])
    /// Scales whose layout is neither per tensor, per row nor per group, or is unknown.
    case unbridgeableScales(shape: [Int], scaleShape: [Int], layout: String)
    /// A quantization scheme that cannot hold a tensor of this shape (Q8_0 rows not a multiple of 32).
    case unsupportedShape([Int], scheme: QuantizationDescriptor, reason: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let shape, let elements):
            "shape \(shape) does not match \(elements) stored elements"
        case .nonFiniteValue(let index, let value):
            "weight at flat index \(index) is \(value); quantization needs finite weights (fix or skip this tensor)"
        case .invalidGroupSize(let size):
            "group size \(size) is invalid; use a positive size such as 128"
        case .invalidDimension(let dimension, let rank):
            "dimension \(dimension) is out of range for a tensor of rank \(rank); use 0..<\(max(rank, 1)) or a negative index from the end"
        case .unsupportedBits(let bits):
            "only 8-bit quantization is supported, got bits \(bits)"
        case .notAMatrix(let shape):
            "expected a 2-D weight [outFeatures, inFeatures], got shape \(shape)"
        case .emptyReduction(let shape, let dimension):
            "cannot take max|w| over zero values (shape \(shape), dimension \(dimension.map(String.init) ?? "none")); quantize a non-empty tensor"
        case .unsupportedEncoding(let encoding):
            "\(encoding) is not supported here; use float32, float16 or bfloat16"
        case .broadcastMismatch(let shape, let other):
            "shapes \(shape) and \(other) do not broadcast together; check the scale and its dimension"
        case .unbridgeableScales(let shape, let scaleShape, let layout):
            "scales of shape \(scaleShape) (\(layout)) for a weight of shape \(shape) are not per tensor, per row or per group; quantize with dimension nil or 1 (quantizeWeightPerChannel)"
        case .unsupportedShape(let shape, let scheme, let reason):
            "\(scheme.label) cannot hold shape \(shape): \(reason); keep this tensor as float or use another scheme"
        }
    }
}
