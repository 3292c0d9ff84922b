/// Misuse of a ``TensorWriter`` by its caller: every writer raises these the same way.
public enum TensorWriterError: Error, Equatable, Sendable, CustomStringConvertible {
    case unexpectedTensor(name: String)
    case missingTensors(count: Int)
    case headerTooLarge(bytes: Int, reserved: Int)
    /// A weight quantized with a scheme the output format cannot hold.
    case unsupportedScheme(tensor: String, scheme: QuantizationDescriptor, format: String)

    public var description: String {
        switch self {
        case .unexpectedTensor(let name):
            "internal error: tensor '\(printableInMessage(name))' was written out of the announced order; please report this"
        case .missingTensors(let count):
            "internal error: \(count) announced tensors were never written; please report this"
        case .headerTooLarge(let bytes, let reserved):
            "internal error: header of \(bytes) bytes exceeds the \(reserved) reserved; please report this"
        case .unsupportedScheme(let tensor, let scheme, let format):
            "tensor '\(printableInMessage(tensor))' is quantized as \(scheme.label), which \(format) output cannot store; quantize it with a scheme the format holds or write another format"
        }
    }
}
