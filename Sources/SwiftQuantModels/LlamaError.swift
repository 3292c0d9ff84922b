import SwiftQuantCore

/// Errors configuring, loading or running a ``LlamaModel``; each description is one line.
public enum LlamaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The configuration (`config.json` or GGUF keys) is malformed or describes an unsupported model.
    case invalidConfiguration(source: String, reason: String)
    /// A weight is missing or has the wrong shape.
    case invalidWeight(path: String, tensor: String, reason: String)
    /// A token id outside the vocabulary.
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    /// The sequence would pass the model's sliding attention window, which this decoder does not implement.
    case beyondSlidingWindow(length: Int, window: Int)
    /// Generation was asked for with an empty prompt.
    case emptyPrompt
    /// A sampling parameter out of range.
    case invalidParameter(name: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let source, let reason):
            "\(source): \(reason)"
        case .invalidWeight(let path, let tensor, let reason):
            "\(path): tensor '\(printableInMessage(tensor))' \(reason)"
        case .tokenOutOfRange(let token, let vocabularySize):
            "token id \(token) is outside the vocabulary of \(vocabularySize) tokens"
        case .beyondSlidingWindow(let length, let window):
            "a sequence of \(length) tokens passes the model's sliding window of \(window); this decoder attends to the whole sequence, so keep prompt plus generated tokens within the window"
        case .emptyPrompt:
            "the prompt has no tokens; give at least one (a BOS token is enough)"
        case .invalidParameter(let name, let reason):
            "\(name) \(reason)"
        }
    }
}
