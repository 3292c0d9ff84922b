import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN
/// Errors loading or running the MiniLM sentence encoder; each description is one line.
public enum MiniLMError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file of the model folder is missing or unreadable.
    case cannotRead(path: String, what: String)
    /// `vocab.txt` lacks `[CLS]`, `[SEP]` or `[UNK]`.
    case missingSpecialToken(path: String, token: String)
    /// `config.json` or `sentence_bert_config.json` is malformed or describes another model.
    case invalidConfiguration(path: String, reason: String)
    /// A weight is missing or has the wrong shape.
    case invalidWeight(path: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case .cannotRead(let path, let what):
            "\(path): cannot read \(what); give the folder of a sentence-transformers model"
        case .missingSpecialToken(let path, let token):
            "\(path): the vocabulary has no \(token) token; is this a BERT vocab.txt?"
        case .invalidConfiguration(let path, let reason):
            "\(path): \(reason)"
        case .invalidWeight(let path, let tensor, let reason):
            "\(path): tensor '\(tensor)' \(reason)"
        }
    }
}
