import SwiftQuantCore
import SwiftQuantKernels

/// Errors from building or running a ``Linear`` or ``QuantizedLinear`` layer.
///
/// Each description is one line that says what is wrong and what to do.
public enum LayerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A weight's shape is not `[outFeatures, inFeatures]`.
    case weightShapeMismatch(expected: [Int], actual: [Int])
    /// A bias does not have `outFeatures` values.
    case biasCountMismatch(expected: Int, actual: Int)
    /// The input's last dimension is not `inFeatures`.
    case inputShapeMismatch(inFeatures: Int, actual: [Int])
    /// The number of scales does not fit the weight shape and granularity.
    case scaleCountMismatch(granularity: Granularity, expected: Int, actual: Int)
    /// `forward` was called before `quantizeWeights`.
    case notQuantized(inFeatures: Int, outFeatures: Int)
    /// A feature count that is zero or negative.
    case invalidFeatureCount(inFeatures: Int, outFeatures: Int)
    /// Quantization rejected the weights (a NaN or infinite value, a bad group size).
    case quantization(KernelError)
    /// A kernel could not allocate its scratch memory.
    case workspaceUnavailable(bytes: Int)

    public var description: String {
        switch self {
        case .weightShapeMismatch(let expected, let actual):
            "weight has shape \(actual) but the layer needs [outFeatures, inFeatures] = \(expected)"
        case .biasCountMismatch(let expected, let actual):
            "bias has \(actual) values but the layer has \(expected) output features"
        case .inputShapeMismatch(let inFeatures, let actual):
            "input has shape \(actual) but the layer takes \(inFeatures) features in its last dimension"
        case .scaleCountMismatch(let granularity, let expected, let actual):
            "\(actual) scales given for \(granularity) weights that need \(expected)"
        case .notQuantized(let inFeatures, let outFeatures):
            "QuantizedLinear(\(inFeatures)→\(outFeatures)) has no weights yet; call quantizeWeights(_:) or load it from a checkpoint before forward"
        case .invalidFeatureCount(let inFeatures, let outFeatures):
            "a layer needs positive feature counts, got inFeatures \(inFeatures) and outFeatures \(outFeatures)"
        case .quantization(let error):
            "cannot quantize the layer's weights: \(error)"
        case .workspaceUnavailable(let bytes):
            "cannot allocate \(bytes) bytes of scratch memory for the kernel; free memory and retry"
        }
    }
}
