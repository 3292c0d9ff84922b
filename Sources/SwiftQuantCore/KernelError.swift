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
        case .unsupportedShape(let shape, let scheme, let reason):
            "\(scheme.label) cannot hold shape \(shape): \(reason); keep this tensor as float or use another scheme"
        }
    }
}
