import SwiftQuantCore
import SwiftQuantKernels

/// One safetensors file, memory-mapped and fully validated when opened.
///
/// The layout is an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the
/// data buffer. Opening checks every rule of the reference Rust crate and more: the header
/// limits, strict JSON (duplicate names are rejected, not silently merged), string-only
/// `__metadata__`, known dtypes, offsets that run contiguously from 0 and cover the buffer
/// exactly, and sizes that match shape × dtype with overflow checks. After that, reading a
/// tensor only touches that tensor's pages, and ``data(for:)`` returns a view into the map.
///
/// Tensor data need not be aligned (real files are not); every decoder loads unaligned.
///
/// ```swift
/// let file = try SafeTensorsFile(path: "model.safetensors")
/// for info in file.tensors { print(info.name, info.dtype, info.shape) }
/// let weights = try file.floats(for: "lm_head.weight")
/// ```
public struct SafeTensorsFile: TensorSource {
    /// The safetensors limit on the header length N (the Rust crate's `MAX_HEADER_SIZE`).
    public static let maximumHeaderLength = 100_000_000

    public let path: String
    public var formatName: String { "safetensors" }
    /// Every tensor, sorted by data offset (the order the file stores them).
    public let tensors: [TensorInfo]
    /// `__metadata__`, all values `MetadataValue.string(_:)`; empty when absent.
    public let metadata: [String: MetadataValue]
    /// The map of the whole file.
    public let file: MappedFile
    /// The header's length N; the data buffer starts at byte `8 + N`.
    public let headerLength: Int

    /// Position in ``tensors`` and file byte range of each tensor, by name.
    private let locations: [ByteExactName: (index: Int, range: Range<Int>)]

    /// Maps and validates the file at `path`.
    ///
    /// - Throws: `FileError` when the file cannot be opened or mapped, ``SafeTensorsError``
    ///   when it breaks a rule of the format.
    public init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Validates an already mapped file.
    public init(file: MappedFile) throws(SafeTensorsError) {
        let header = try SafeTensorsHeader(file: file)
        self.file = file
        path = file.path
        headerLength = header.length
        metadata = header.metadata.mapValues { .string($0) }
        let dataStart = 8 + header.length
        var tensors: [TensorInfo] = []
        var locations: [ByteExactName: (index: Int, range: Range<Int>)] = [:]
        tensors.reserveCapacity(header.entries.count)
        locations.reserveCapacity(header.entries.count)
        for entry in header.entries {
            locations[ByteExactName(entry.name)] = (tensors.count, dataStart + entry.begin ..< dataStart + entry.end)
            tensors.append(TensorInfo(name: entry.name, dtype: entry.dtype, shape: entry.shape,
                                      byteCount: entry.end - entry.begin))
        }
        self.tensors = tensors
        self.locations = locations
    }

    /// Looks a tensor up by name without scanning.
    public func info(for name: String) -> TensorInfo? {
        locations[ByteExactName(name)].map { tensors[$0.index] }
    }

    /// The byte range of a tensor's data within ``file``, or `nil` for an unknown name.
    public func fileRange(for name: String) -> Range<Int>? {
        locations[ByteExactName(name)]?.range
    }

    /// The tensor's bytes as stored: a view into the map, no copy.
    public func data(for name: String) throws -> TensorData {
        try rawData(for: name)
    }

    /// Like ``data(for:)``, with the error type spelled out.
    public func rawData(for name: String) throws(TensorSourceError) -> TensorData {
        guard let (index, range) = locations[ByteExactName(name)] else {
            throw .noSuchTensor(path: path, name: name)
        }
        return TensorData(info: tensors[index], bytes: UnsafeRawBufferPointer(rebasing: file.bytes[range]), owner: file)
    }

    /// The tensor decoded to Float32: exact for F16, BF16 and F32, round-to-nearest-even for F64;
    /// an I8 weight in the int8 layout (with its `NAME_scale`, as compressed-tensors folders
    /// store it) dequantized, `code × scale`, so it can be compared (`verify --against`).
    ///
    /// - Throws: `TensorSourceError.notDecodable(path:name:dtype:)` for any other dtype.
    public func floats(for name: String) throws -> [Float] {
        let data = try rawData(for: name)
        if data.info.dtype == .i8, let weight = try SafeTensorsInt8Layout.weight(named: name, in: self) {
            return dequantize(weight).storage
        }
        guard let encoding = data.info.dtype.floatEncoding else {
            throw TensorSourceError.notDecodable(path: path, name: name, dtype: data.info.dtype)
        }
        return withExtendedLifetime(data.owner) { decodeFloats(data.bytes, encoding: encoding) }
    }

    public func releasePages(for name: String) {
        guard let range = locations[ByteExactName(name)]?.range else { return }
        file.releasePages(range)
    }
}

/// The validated header of a safetensors file.
struct SafeTensorsHeader {
    struct Entry {
        package var name: String
        var dtype: DType
        var shape: [Int]
        /// Offsets relative to the data buffer; `end` is exclusive.
        var begin: Int
        var end: Int
        /// File offset of the entry's key, for messages.
        package var offset: Int
    }

    /// N, the header's length in bytes.
    var length: Int
    var metadata: [String: String]
    /// Sorted by data offset.
    var entries: [Entry]

    init(file: MappedFile) throws(SafeTensorsError) {
        let path = file.path
        let bytes = file.bytes
        guard bytes.count >= 8 else { throw .headerTooSmall(path: path, fileSize: bytes.count) }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(SafeTensorsFile.maximumHeaderLength) else {
            throw .headerTooLarge(path: path, headerLength: declared)
        }
        length = Int(declared)
        guard 8 + length <= bytes.count else {
            throw .invalidHeaderLength(path: path, headerLength: declared, fileSize: bytes.count)
        }
        let root: JSONNode
        do {
            root = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: bytes[8 ..< 8 + length]))
        } catch {
            throw .invalidHeaderJSON(path: path, offset: 8 + error.offset, reason: error.reason)
        }
        guard case .object(let members) = root.value else {
            throw .headerNotAnObject(path: path, found: root.typeDescription)
        }

        var metadata: [String: String]?
        var entries: [Entry] = []
        var seen = Set<ByteExactName>()
        entries.reserveCapacity(members.count)
        seen.reserveCapacity(members.count)
        for member in members {
            let offset = 8 + member.keyOffset
            if member.key == "__metadata__" {
                guard metadata == nil else {
                    throw .invalidMetadata(path: path, offset: offset, reason: "appears twice")
                }
                metadata = try Self.parseMetadata(member.value, path: path)
                continue
            }
            guard seen.insert(ByteExactName(member.key)).inserted else {
                throw .duplicateTensor(path: path, name: member.key, offset: offset)
            }
            entries.append(try Self.parseEntry(member, path: path))
        }
        self.metadata = metadata ?? [:]

        // Sorted by offsets as the Rust crate does; ties (several empty tensors at one offset)
        // keep header order so the result does not depend on hashing.
        entries = entries.enumerated().sorted {
            ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset)
        }.map(\.element)

        var expected = 0
        var previous: String?
        for entry in entries {
            guard entry.begin == expected else {
                throw .nonContiguousOffsets(path: path, name: entry.name, begin: entry.begin,
                                            expected: expected, previous: previous)
            }
            let size = try Self.byteSize(of: entry, path: path)
            guard entry.end - entry.begin == size else {
                throw .sizeMismatch(path: path, name: entry.name, dtype: entry.dtype, shape: entry.shape,
                                    expected: size, actual: entry.end - entry.begin)
            }
            expected = entry.end
            previous = entry.name
        }
        let dataBytes = bytes.count - 8 - length
        guard expected == dataBytes else {
            throw .incompleteBuffer(path: path, tensorBytes: expected, dataBytes: dataBytes)
        }
        self.entries = entries
    }

    private static func parseMetadata(_ node: JSONNode, path: String) throws(SafeTensorsError) -> [String: String] {
        // serde reads `Option<HashMap<String, String>>`, so an explicit null means "none".
        if case .null = node.value { return [:] }
        guard case .object(let members) = node.value else {
            throw .invalidMetadata(path: path, offset: 8 + node.offset, reason: "is \(node.typeDescription), not an object")
        }
        var metadata: [String: String] = [:]
        for member in members {
            guard case .string(let value) = member.value.value else {
                throw .invalidMetadata(path: path, offset: 8 + member.value.offset,
                                       reason: "has key \(quotedName(member.key)) whose value is \(member.value.typeDescription), not a string")
            }
            guard metadata.updateValue(value, forKey: member.key) == nil else {
                throw .invalidMetadata(path: path, offset: 8 + member.keyOffset,
                                       reason: "has key \(quotedName(member.key)) twice")
            }
        }
        return metadata
    }

    private static func parseEntry(_ member: JSONNode.Member, path: String) throws(SafeTensorsError) -> Entry {
        let name = member.key
        let offset = 8 + member.keyOffset
        func invalid(_ reason: String) -> SafeTensorsError {
            .invalidTensorEntry(path: path, name: name, offset: offset, reason: reason)
        }
        guard case .object(let fields) = member.value.value else {
            throw invalid("entry is \(member.value.typeDescription), not an object with dtype, shape and data_offsets")
        }
        var dtypeNode: JSONNode?
        var shapeNode: JSONNode?
        var offsetsNode: JSONNode?
        for field in fields {
            // Unknown fields are ignored, as serde does for the reference crate.
            switch field.key {
            case "dtype":
                guard dtypeNode == nil else { throw invalid("field \"dtype\" appears twice") }
                dtypeNode = field.value
            case "shape":
                guard shapeNode == nil else { throw invalid("field \"shape\" appears twice") }
                shapeNode = field.value
            case "data_offsets":
                guard offsetsNode == nil else { throw invalid("field \"data_offsets\" appears twice") }
                offsetsNode = field.value
            default:
                continue
            }
        }

        guard let dtypeNode else { throw invalid("missing field \"dtype\"") }
        guard case .string(let dtypeName) = dtypeNode.value else {
            throw invalid("\"dtype\" is \(dtypeNode.typeDescription), not a string")
        }
        // ggml block types share the dtype table but are not safetensors dtypes.
        guard let dtype = DType(rawValue: dtypeName), !dtype.isBlockQuantized else {
            throw .unknownDType(path: path, name: name, dtype: dtypeName, offset: 8 + dtypeNode.offset)
        }

        guard let shapeNode else { throw invalid("missing field \"shape\"") }
        guard case .array(let dims) = shapeNode.value else {
            throw invalid("\"shape\" is \(shapeNode.typeDescription), not an array")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for dim in dims {
            guard let value = dim.nonNegativeInteger else {
                throw invalid("\"shape\" holds \(dim.description), not a non-negative integer")
            }
            shape.append(value)
        }

        guard let offsetsNode else { throw invalid("missing field \"data_offsets\"") }
        guard case .array(let offsets) = offsetsNode.value, offsets.count == 2 else {
            throw invalid("\"data_offsets\" is not an array of two integers [begin, end]")
        }
        guard let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
            throw invalid("\"data_offsets\" holds \(offsets[offsets[0].nonNegativeInteger == nil ? 0 : 1].description), not a non-negative integer")
        }
        guard begin <= end else { throw .invalidOffsets(path: path, name: name, begin: begin, end: end) }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end, offset: offset)
    }

    /// ∏shape × bits / 8, with every step checked as the Rust crate does.
    ///
    /// Stricter than the crate in one way: the product of the non-zero dimensions must fit
    /// too. The crate accepts `[0, 2^62, 2^62]` (the zero comes first) but not `[2^62, 2^62, 0]`;
    /// rows × columns of such a tensor overflows later (and no checkpoint could store it).
    private static func byteSize(of entry: Entry, path: String) throws(SafeTensorsError) -> Int {
        guard entry.shape.map({ max($0, 1) }).checkedElementCount != nil else {
            throw .sizeOverflow(path: path, name: entry.name, dtype: entry.dtype, shape: entry.shape)
        }
        var elements = 1
        for dim in entry.shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw .sizeOverflow(path: path, name: entry.name, dtype: entry.dtype, shape: entry.shape)
            }
            elements = product
        }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: entry.dtype.layout.bitsPerBlock)
        guard !overflow else {
            throw .sizeOverflow(path: path, name: entry.name, dtype: entry.dtype, shape: entry.shape)
        }
        guard bits % 8 == 0 else {
            throw .partialByte(path: path, name: entry.name, dtype: entry.dtype, elementCount: elements)
        }
        return bits / 8
    }
}

extension JSONNode: CustomStringConvertible {
    /// The value shortened for a message: numbers and short strings verbatim, containers by type.
    package var description: String {
        switch value {
        case .number(let text): text.count > 40 ? String(text.prefix(40)) + "…" : text
        case .string(let text): "the string " + quotedName(text)
        case .bool(let flag): flag ? "true" : "false"
        default: typeDescription
        }
    }
}
