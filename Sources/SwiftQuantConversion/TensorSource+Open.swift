import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantSafeTensors
import SwiftQuantGGUF
import SwiftQuantCheckpoint
/// The checkpoint formats SwiftQuant reads, recognised by content, never by file name.
public enum TensorSourceFormat: Sendable, Hashable {
    /// A single safetensors file.
    case safeTensors
    /// A `*.safetensors.index.json` file (a folder is recognised before any bytes are read).
    case shardedSafeTensorsIndex
    /// A GGUF file.
    case gguf
    /// A SwiftQuant checkpoint.
    case swiftQuantCheckpoint

    /// Recognises a format from a file's bytes, or returns `nil` when none matches.
    ///
    /// Checks run from the most specific signature to the least: magic numbers first, then
    /// the safetensors shape (a plausible little-endian header length followed by a JSON
    /// object), then a bare JSON object. A JSON file cannot pass for safetensors: its first
    /// eight bytes are printable text, which read as a length far over the header limit.
    public init?(recognizing bytes: UnsafeRawBufferPointer) {
        if bytes.starts(with: "GGUF".utf8) {
            self = .gguf
            return
        }
        if CheckpointFormat.hasMagic(bytes) {
            self = .swiftQuantCheckpoint
            return
        }
        if bytes.count >= 8 {
            let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
            if length <= UInt64(SafeTensorsFile.maximumHeaderLength), 8 + Int(length) <= bytes.count,
               firstNonWhitespace(in: UnsafeRawBufferPointer(rebasing: bytes[8 ..< 8 + Int(length)])) == UInt8(ascii: "{") {
                self = .safeTensors
                return
            }
        }
        if firstNonWhitespace(in: bytes) == UInt8(ascii: "{") {
            self = .shardedSafeTensorsIndex
            return
        }
        return nil
    }
}

/// Opens any checkpoint SwiftQuant reads: a safetensors file, a sharded safetensors folder or
/// its index file, a GGUF file or a SwiftQuant checkpoint.
///
/// The format is decided by content (see ``TensorSourceFormat/init(recognizing:)``), so a
/// renamed file still opens. The one use of the name: a file that matches no format but is
/// called `*.safetensors` is opened as safetensors anyway, so the user gets the precise
/// validation error (truncated, header too large, …) instead of "unrecognised format";
/// likewise `*.gguf` is opened as GGUF, so a damaged magic is named as such.
///
/// - Throws: the reader's error for a malformed file, `FileError` when it cannot be read,
///   `TensorSourceError.unrecognizedFormat(path:)` when nothing matches.
public func openTensorSource(at path: String) throws -> any TensorSource {
    try FormatRegistry.standard.openTensorSource(at: path)
}

/// The first byte that is not JSON whitespace, or `nil` when there is none.
private func firstNonWhitespace(in bytes: UnsafeRawBufferPointer) -> UInt8? {
    bytes.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
}
