import SwiftQuantCore
import SwiftQuantKernels
/// Why a SwiftQuant checkpoint cannot be read. Every message names the file, and where it
/// applies the tensor and byte offset, and says what to do.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with the checkpoint magic.
    case notACheckpoint(path: String)
    /// A major version this reader does not know.
    case unsupportedVersion(path: String, major: Int, minor: Int)
    /// The file is shorter (or longer) than its preamble says.
    case wrongLength(path: String, expected: Int, actual: Int)
    /// The preamble or header checksum does not match: the header is damaged.
    case headerChecksumMismatch(path: String, offset: Int)
    /// A header field is invalid.
    case malformedHeader(path: String, offset: Int, reason: String)
    /// A directory entry is invalid.
    case malformedEntry(path: String, tensor: String, offset: Int, reason: String)
    /// A chunk's stored bytes do not match their checksum.
    case chunkChecksumMismatch(path: String, tensor: String, chunk: Int, offset: Int)
    /// A chunk's checksum matched but it does not decode (a writer bug or a forged checksum).
    case corruptChunk(path: String, tensor: String, chunk: Int, offset: Int, reason: String)
    /// A codec this reader does not know (a newer minor version wrote it).
    case unsupportedCodec(path: String, tensor: String, code: Int)
    /// The operation needs a quantized tensor.
    case notQuantized(path: String, tensor: String)

    public var description: String {
        switch self {
        case .notACheckpoint(let path):
            "\(path): not a SwiftQuant checkpoint (no SwiftQuant magic at byte 0)"
        case .unsupportedVersion(let path, let major, let minor):
            "\(path): checkpoint format version \(major).\(minor) is not supported by this swiftquant (reads \(CheckpointFormat.majorVersion).x); upgrade swiftquant"
        case .wrongLength(let path, let expected, let actual):
            "\(path): file is \(actual) bytes but its header says \(expected); the file is truncated or damaged, convert it again"
        case .headerChecksumMismatch(let path, let offset):
            "\(path): header checksum mismatch (header at byte \(offset)); the file is damaged, convert it again"
        case .malformedHeader(let path, let offset, let reason):
            "\(path): invalid checkpoint header at byte \(offset): \(reason); the file is damaged or not written by swiftquant"
        case .malformedEntry(let path, let tensor, let offset, let reason):
            "\(path): tensor '\(printableInMessage(tensor))': invalid directory entry at byte \(offset): \(reason); the file is damaged or not written by swiftquant"
        case .chunkChecksumMismatch(let path, let tensor, let chunk, let offset):
            "\(path): tensor '\(printableInMessage(tensor))': checksum mismatch in chunk \(chunk) at byte \(offset); the file is damaged, convert it again"
        case .corruptChunk(let path, let tensor, let chunk, let offset, let reason):
            "\(path): tensor '\(printableInMessage(tensor))': chunk \(chunk) at byte \(offset) does not decode: \(reason); convert the file again"
        case .unsupportedCodec(let path, let tensor, let code):
            "\(path): tensor '\(printableInMessage(tensor))' uses codec \(code), unknown to this swiftquant; upgrade swiftquant"
        case .notQuantized(let path, let tensor):
            "\(path): tensor '\(printableInMessage(tensor))' is not quantized; read it with floats(for:) or data(for:)"
        }
    }
}
