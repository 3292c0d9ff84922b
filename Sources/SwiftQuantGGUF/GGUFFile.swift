import SwiftQuantCore
import SwiftQuantKernels

/// A GGUF file (v2 or v3), memory-mapped: llama.cpp's checkpoint format.
///
/// Opening parses and validates the whole header — metadata, tensor infos and the layout
/// of the data section — against the ways crafted files have broken llama.cpp's parser
/// (see ``GGUFError``). Every length is checked against the bytes left in the file before
/// anything is allocated, so a hostile header costs at most what the file itself holds.
/// Tensor data is then read straight from the map.
///
/// Shapes are row-major: GGUF lists dimensions fastest-varying first, and this reader
/// reverses them, so a `[n_embd, n_vocab]` GGUF embedding has shape `[n_vocab, n_embd]`.
/// Zero-sized dimensions are accepted (empty tensors, as ggml allows).
public struct GGUFFile: TensorSource {
    public let path: String
    public var formatName: String { "gguf" }
    /// The GGUF version, 2 or 3 (they share one layout).
    public let version: UInt32
    /// The data alignment: `general.alignment`, or 32 when absent.
    public let alignment: Int
    /// The file offset where the data section begins.
    public let dataSectionOffset: Int
    public let tensors: [TensorInfo]
    /// Every key/value pair in file order, with the exact stored types.
    public let entries: [GGUFMetadataEntry]
    public let metadata: [String: MetadataValue]

    let file: MappedFile
    /// Each tensor's bytes as a range of file offsets, in ``tensors`` order.
    let byteRanges: [Range<Int>]
    let indexByName: [ByteExactName: Int]

    /// Maps and validates the GGUF file at `path`. Throws `FileError` or ``GGUFError``.
    public init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Validates an already mapped file.
    public init(file: MappedFile) throws(GGUFError) {
        let header = try GGUFHeader(parsing: file.bytes, path: file.path)
        self.file = file
        path = file.path
        version = header.version
        alignment = header.alignment
        dataSectionOffset = header.dataSectionOffset
        tensors = header.tensors
        entries = header.entries
        byteRanges = header.byteRanges
        indexByName = Dictionary(uniqueKeysWithValues: header.tensors.indices.map { (ByteExactName(header.tensors[$0].name), $0) })
        var metadata: [String: MetadataValue] = [:]
        metadata.reserveCapacity(header.entries.count)
        for entry in header.entries { metadata[entry.key] = entry.value }
        self.metadata = metadata
    }

    /// Whether `bytes` start with the GGUF magic; how `openTensorSource` recognises the format.
    public static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self) == GGUFFormat.magic.littleEndian
    }

    /// Looks a tensor up by name without scanning.
    public func info(for name: String) -> TensorInfo? {
        indexByName[ByteExactName(name)].map { tensors[$0] }
    }

    /// The tensor's bytes exactly as stored (ggml blocks for quantized types), without copying.
    public func data(for name: String) throws -> TensorData {
        guard let index = indexByName[ByteExactName(name)] else {
            throw TensorSourceError.noSuchTensor(path: path, name: name)
        }
        let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[byteRanges[index]])
        return TensorData(info: tensors[index], bytes: bytes, owner: file)
    }

    /// The tensor as Float32: floats are widened, Q8_0 is dequantized (`q × d`, as ggml does).
    /// Other ggml block types and integer tensors throw `TensorSourceError.notDecodable(path:name:dtype:)`.
    public func floats(for name: String) throws -> [Float] {
        let data = try data(for: name)
        let dtype = data.info.dtype
        let count = data.info.elementCount
        if dtype == .q8_0 {
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                withExtendedLifetime(data.owner) {
                    dequantizeQ8_0(data.bytes, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
                }
                initialized = count
            }
        }
        guard let encoding = dtype.floatEncoding else {
            throw TensorSourceError.notDecodable(path: path, name: name, dtype: dtype)
        }
        return withExtendedLifetime(data.owner) { decodeFloats(data.bytes, encoding: encoding) }
    }

    /// A Q8_0 tensor as a `QuantizedWeight`: its codes, and each block's fp16 `d` widened to
    /// a Float32 scale (copied out of the interleaved blocks). `nil` for other types.
    public func quantizedWeight(for name: String) throws -> QuantizedWeight? {
        guard let index = indexByName[ByteExactName(name)] else {
            throw TensorSourceError.noSuchTensor(path: path, name: name)
        }
        guard tensors[index].dtype == .q8_0 else { return nil }
        let data = try data(for: name)
        do {
            return try withExtendedLifetime(data.owner) { () throws(KernelError) in
                try Q8_0.weight(fromBlocks: data.bytes, shape: data.info.shape)
            }
        } catch {
            throw TensorSourceError.notDecodable(path: path, name: name, dtype: .q8_0)
        }
    }

    public func releasePages(for name: String) {
        if let index = indexByName[ByteExactName(name)] { file.releasePages(byteRanges[index]) }
    }
}
