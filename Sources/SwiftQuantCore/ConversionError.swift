public enum ConversionError: Error, Equatable, Sendable, CustomStringConvertible {
    case nonFiniteWeight(path: String, tensor: String, index: Int, value: Float)
    case kernel(path: String, tensor: String, message: String)
    case alreadyQuantized(path: String, tensor: String)

    public var description: String {
        switch self {
        case .nonFiniteWeight(let path, let tensor, let index, let value):
            "\(path): tensor '\(printableInMessage(tensor))' has a non-finite weight (\(value)) at flat index \(index); fix the checkpoint or keep this tensor in float"
        case .kernel(let path, let tensor, let message):
            "\(path): tensor '\(printableInMessage(tensor))': \(message)"
        case .alreadyQuantized(let path, let tensor):
            "\(path): tensor '\(printableInMessage(tensor))' is already quantized (a SwiftQuant checkpoint, or int8 weights with their scales); convert the original float model instead (re-quantizing compounds the error), or export a SwiftQuant checkpoint to another layout"
        }
    }
}
