import SwiftQuantCore
import SwiftQuantKernels

/// Errors building a layer from a checkpoint's tensors; each description is one line naming
/// the file and the layer.
public enum LayerLoadingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The tensors exist but do not make a valid layer (shape, bias, scales).
    case invalidLayer(path: String, layer: String, reason: LayerError)
    /// `<layer>.weight` has a dtype a float layer cannot use.
    case unsupportedWeightType(path: String, tensor: String, dtype: DType)
    /// A tensor's shape is not the one the model's configuration needs.
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case .invalidLayer(let path, let layer, let reason):
            "\(path): layer '\(printableInMessage(layer))': \(reason)"
        case .unsupportedWeightType(let path, let tensor, let dtype):
            "\(path): tensor '\(printableInMessage(tensor))' has dtype \(dtype.rawValue); a Linear layer needs F32, F16, BF16 or F64 weights"
        case .shapeMismatch(let path, let tensor, let expected, let actual):
            "\(path): tensor '\(printableInMessage(tensor))' has shape \(actual) but the model needs \(expected); is this the model the configuration describes?"
        }
    }
}
