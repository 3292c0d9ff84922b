import SwiftQuantCore
import SwiftQuantKernels

/// Errors building a layer from a checkpoint's tensors; each description is one line naming
/// the file and the layer.
public enum LayerLoadingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The tensors exist but do not make a valid layer (shape, bias, scales).
    case invalidLayer(path: String, layer: String, reason: LayerError)
    /// `<layer>.weight` has a dtype a float layer cannot use.
    case unsupportedWeightType(path: String, tensor: String, dtype: DType)
    /// `<layer>.weight` is stored as float, not quantized (the rules kept it).
    case notQuantized(path: String, tensor: String)
    /// A tensor's shape is not the one the model's configuration needs.
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case .invalidLayer(let path, let layer, let reason):
            "\(path): layer '\(printableInMessage(layer))': \(reason)"
        case .unsupportedWeightType(let path, let tensor, let dtype):
            "\(path): tensor '\(printableInMessage(tensor))' has dtype \(dtype.rawValue); a Linear layer needs F32, F16, BF16 or F64 weights"
        case .notQuantized(let path, let tensor):
            "\(path): tensor '\(printableInMessage(tensor))' is stored as float, not quantized; load it as a float layer (linearLayer accepts either)"
        case .shapeMismatch(let path, let tensor, let expected, let actual):
            "\(path): tensor '\(printableInMessage(tensor))' has shape \(actual) but the model needs \(expected); is this the model the configuration describes?"
        }
    }
}
