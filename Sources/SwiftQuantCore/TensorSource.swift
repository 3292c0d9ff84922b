
/// A checkpoint that SwiftQuant can read: one safetensors file, a sharded folder, a GGUF
/// file or a SwiftQuant checkpoint. Every command works through this protocol, so every
/// command works on every format.
///
/// Readers validate their whole header when they are opened; reading a tensor then only
/// touches that tensor's bytes.
public protocol TensorSource: Sendable {
    /// The path the user gave (a file or a folder), for messages.
    var path: String { get }
    /// `safetensors`, `gguf` or `swiftquant`.
    var formatName: String { get }
    /// Every tensor, in the order the file stores them.
    var tensors: [TensorInfo] { get }
    /// File-level metadata (safetensors `__metadata__`, GGUF key/values, our checkpoint's keys).
    var metadata: [String: MetadataValue] { get }

    /// Looks a tensor up by name, or `nil` when the source has none by that name.
    ///
    /// A requirement (not only an extension method) so that the readers' dictionaries answer
    /// through `any TensorSource` too: conversion, verify and layer loading look up every
    /// tensor by name, and a linear scan per lookup is quadratic on large checkpoints.
    func info(for name: String) -> TensorInfo?

    /// The tensor's bytes in its stored dtype: zero-copy when the file stores them raw.
    func data(for name: String) throws -> TensorData

    /// The tensor decoded to Float32 (dequantized for quantized tensors).
    func floats(for name: String) throws -> [Float]

    /// The tensor as a quantized weight when the file stores it quantized (a checkpoint's INT8
    /// tensors, GGUF Q8_0, the int8 `NAME` + `NAME_scale` safetensors layout), `nil` for float
    /// and other tensors. Zero-copy when the file stores the codes raw.
    func quantizedWeight(for name: String) throws -> QuantizedWeight?

    /// Drops the tensor's pages from resident memory once a streaming pass is done with it.
    func releasePages(for name: String)
}

extension TensorSource {
    /// Looks a tensor up by scanning ``tensors``, comparing names as exact UTF-8 bytes (see
    /// `ByteExactName`): the default for small sources (tests, sources held in memory). The
    /// readers in this package answer from a dictionary instead.
    public func info(for name: String) -> TensorInfo? {
        tensors.first { $0.name.hasSameBytes(as: name) }
    }

    public func releasePages(for name: String) {}

    /// No quantized tensors: what a reader of plain float files answers.
    public func quantizedWeight(for name: String) throws -> QuantizedWeight? { nil }
}

/// Errors that any reader can raise once a file is open.
public enum TensorSourceError: Error, Equatable, Sendable, CustomStringConvertible {
    case noSuchTensor(path: String, name: String)
    case notDecodable(path: String, name: String, dtype: DType)
    case unrecognizedFormat(path: String)

    public var description: String {
        switch self {
        case .noSuchTensor(let path, let name):
            "\(path): no tensor named '\(printableInMessage(name))'"
        case .notDecodable(let path, let name, let dtype):
            "\(path): tensor '\(printableInMessage(name))' has dtype \(dtype.rawValue), which SwiftQuant cannot convert to float; keep it with a rule or convert it first"
        case .unrecognizedFormat(let path):
            "\(path): not a safetensors file, a sharded safetensors folder, a GGUF file or a SwiftQuant checkpoint"
        }
    }
}
