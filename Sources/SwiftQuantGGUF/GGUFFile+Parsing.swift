import SwiftQuantCore
import SwiftQuantKernels

/// Everything a GGUF header says, validated: see ``GGUFFile``.
struct GGUFHeader {
    var version: UInt32 = 0
    var alignment = GGUFFormat.defaultAlignment
    var dataSectionOffset = 0
    var entries: [GGUFMetadataEntry] = []
    var tensors: [TensorInfo] = []
    var byteRanges: [Range<Int>] = []

    /// The fewest bytes a key/value pair takes: key length, type, a one-byte value.
    private static let minimumEntrySize = 8 + 4 + 1
    /// The fewest bytes a tensor info takes: name length, n_dims, type, offset.
    private static let minimumTensorInfoSize = 8 + 4 + 4 + 8

    init(parsing bytes: UnsafeRawBufferPointer, path: String) throws(GGUFError) {
        var cursor = GGUFCursor(bytes: bytes, path: path)

        guard bytes.count >= 4, GGUFFile.hasMagic(bytes) else {
            throw .badMagic(path: path, found: Array(bytes.prefix(4)))
        }
        cursor.offset = 4
        version = try cursor.integer(UInt32.self, reading: "the version")
        if version != 0, version & 0xFFFF == 0 {
            // A small version written big-endian reads as 0xNN000000 here.
            throw .bigEndian(path: path, version: version)
        }
        guard GGUFFormat.supportedVersions.contains(version) else {
            throw .unsupportedVersion(path: path, version: version)
        }
        let tensorCount = try cursor.count(
            reading: "the tensor count", minimumElementSize: Self.minimumTensorInfoSize)
        guard tensorCount <= GGUFFormat.maximumCount else {
            throw .countTooLarge(path: path, offset: 8, what: "tensors", count: tensorCount)
        }
        let entryCount = try cursor.count(
            reading: "the metadata count", minimumElementSize: Self.minimumEntrySize)
        guard entryCount <= GGUFFormat.maximumCount else {
            throw .countTooLarge(path: path, offset: 16, what: "metadata entries", count: entryCount)
        }

        // Key/value pairs.
        var keys = Set<String>()
        var alignmentEntry: (entry: GGUFMetadataEntry, offset: Int)?
        var arrayElements = 0
        entries.reserveCapacity(entryCount)
        for index in 0..<entryCount {
            let keyOffset = cursor.offset
            let key = try cursor.string(reading: "the key of metadata entry \(index)")
            guard keys.insert(key).inserted else {
                throw .duplicateKey(path: path, offset: keyOffset, key: key)
            }
            let typeOffset = cursor.offset
            let type = try cursor.valueType(key: key)
            let entry: GGUFMetadataEntry
            if type == .array {
                let elementTypeOffset = cursor.offset
                let elementType = try cursor.valueType(key: key)
                if elementType == .array {
                    throw .nestedArray(path: path, offset: elementTypeOffset, key: key)
                }
                let countOffset = cursor.offset
                let count = try cursor.count(
                    reading: "the length of array '\(printableInMessage(key))'", minimumElementSize: elementType.minimumSize)
                arrayElements += count
                guard arrayElements <= GGUFFormat.maximumMetadataArrayElements else {
                    throw .metadataTooLarge(
                        path: path, offset: countOffset, key: key, elements: UInt64(arrayElements),
                        limit: GGUFFormat.maximumMetadataArrayElements)
                }
                var values: [MetadataValue] = []
                values.reserveCapacity(count)
                for _ in 0..<count {
                    values.append(try cursor.scalar(elementType, key: key))
                }
                entry = GGUFMetadataEntry(key: key, type: .array, elementType: elementType, value: .array(values))
            } else {
                entry = GGUFMetadataEntry(key: key, type: type, value: try cursor.scalar(type, key: key))
            }
            if key == "general.alignment" { alignmentEntry = (entry, typeOffset) }
            entries.append(entry)
        }

        if let (entry, offset) = alignmentEntry {
            guard entry.type == .uint32, case .uint(let value) = entry.value else {
                let spelled = entry.elementType.map { "an array of \($0)" } ?? "\(entry.type)"
                throw .alignmentWrongType(path: path, offset: offset, type: spelled)
            }
            let valueOffset = offset + 4
            guard value > 0, value & (value - 1) == 0, value <= GGUFFormat.maximumAlignment else {
                throw .invalidAlignment(path: path, offset: valueOffset, value: UInt32(value))
            }
            alignment = Int(value)
        }

        // Tensor infos.
        var names = Set<ByteExactName>()
        var dataOffsets: [(value: UInt64, fieldOffset: Int)] = []
        tensors.reserveCapacity(tensorCount)
        dataOffsets.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let nameOffset = cursor.offset
            let name = try cursor.string(reading: "the name of tensor \(index)")
            guard name.utf8.count <= GGUFFormat.maximumTensorNameBytes else {
                throw .tensorNameTooLong(path: path, offset: nameOffset, name: name, length: name.utf8.count)
            }
            guard names.insert(ByteExactName(name)).inserted else {
                throw .duplicateTensorName(path: path, offset: nameOffset, name: name)
            }

            let dimensionsOffset = cursor.offset
            let dimensionCount = try cursor.integer(UInt32.self, reading: "the dimension count of tensor '\(printableInMessage(name))'")
            guard dimensionCount <= GGUFFormat.maximumDimensions else {
                throw .tooManyDimensions(path: path, offset: dimensionsOffset, tensor: name, count: dimensionCount)
            }
            var dimensions: [UInt64] = []
            for _ in 0..<dimensionCount {
                dimensions.append(try cursor.integer(UInt64.self, reading: "the dimensions of tensor '\(printableInMessage(name))'"))
            }
            // Row-major shape. Every dimension and the product of the non-zero ones must fit in
            // an Int, so a zero cannot hide an overflow (ggml rejects those too).
            let shape = dimensions.reversed().map { Int(exactly: $0) ?? -1 }
            guard shape.map({ max($0, 1) }).checkedElementCount != nil, let elementCount = shape.checkedElementCount
            else {
                throw .shapeOverflow(path: path, offset: dimensionsOffset, tensor: name, dimensions: dimensions)
            }

            let typeOffset = cursor.offset
            let typeNumber = try cursor.integer(UInt32.self, reading: "the type of tensor '\(printableInMessage(name))'")
            guard let dtype = DType(ggmlType: typeNumber) else {
                throw .unknownTensorType(path: path, offset: typeOffset, tensor: name, type: typeNumber)
            }
            let rowLength = shape.last ?? 1
            guard rowLength % dtype.layout.elementsPerBlock == 0 else {
                throw .rowNotMultipleOfBlock(
                    path: path, offset: dimensionsOffset, tensor: name, dtype: dtype, rowLength: rowLength)
            }
            guard let byteCount = dtype.byteCount(elementCount: elementCount) else {
                throw .shapeOverflow(path: path, offset: dimensionsOffset, tensor: name, dimensions: dimensions)
            }

            let dataOffsetField = cursor.offset
            let dataOffset = try cursor.integer(UInt64.self, reading: "the data offset of tensor '\(printableInMessage(name))'")
            tensors.append(TensorInfo(name: name, dtype: dtype, shape: shape, byteCount: byteCount))
            dataOffsets.append((dataOffset, dataOffsetField))
        }

        // The data section starts at the next multiple of the alignment. Offsets never exceed
        // the file size here and the alignment is at most 1 MiB, so this cannot overflow.
        dataSectionOffset = (cursor.offset + alignment - 1) / alignment * alignment

        // Tensor data: aligned, in file order, not overlapping, inside the file.
        let fileSize = bytes.count
        byteRanges.reserveCapacity(tensors.count)
        var previousEnd: UInt64 = 0
        for (index, tensor) in tensors.enumerated() {
            let (dataOffset, field) = dataOffsets[index]
            guard dataOffset % UInt64(alignment) == 0 else {
                throw .misalignedTensorData(
                    path: path, offset: field, tensor: tensor.name, dataOffset: dataOffset, alignment: alignment)
            }
            if index > 0 {
                let previous = tensors[index - 1].name
                let previousOffset = dataOffsets[index - 1].value
                guard dataOffset >= previousOffset else {
                    throw .tensorsOutOfOrder(
                        path: path, offset: field, tensor: tensor.name, dataOffset: dataOffset,
                        previous: previous, previousOffset: previousOffset)
                }
                guard dataOffset >= previousEnd else {
                    throw .overlappingTensorData(
                        path: path, offset: field, tensor: tensor.name, dataOffset: dataOffset,
                        previous: previous, previousEnd: previousEnd)
                }
            }
            let (relativeEnd, overflow) = dataOffset.addingReportingOverflow(UInt64(tensor.byteCount))
            let (end, endOverflow) = relativeEnd.addingReportingOverflow(UInt64(dataSectionOffset))
            guard !overflow, !endOverflow, end <= UInt64(fileSize) else {
                let shown = overflow || endOverflow ? UInt64.max : end
                throw .tensorDataPastEnd(path: path, offset: field, tensor: tensor.name, end: shown, fileSize: fileSize)
            }
            let start = Int(end) - tensor.byteCount
            byteRanges.append(start..<Int(end))
            previousEnd = relativeEnd
        }
    }
}

/// Reads little-endian GGUF fields, checking every length against the bytes left.
struct GGUFCursor {
    /// Core's ``ByteCursor`` does the reading; this adds GGUF's errors and field names.
    private var cursor: ByteCursor
    let path: String
    package var offset: Int {
        get { cursor.position }
        set { cursor.position = newValue }
    }

    init(bytes: UnsafeRawBufferPointer, path: String) {
        cursor = ByteCursor(bytes: bytes)
        self.path = path
    }

    var bytes: UnsafeRawBufferPointer { cursor.bytes }
    var remaining: Int { cursor.remaining }

    mutating func integer<T: FixedWidthInteger>(
        _: T.Type, reading what: @autoclosure () -> String
    ) throws(GGUFError) -> T {
        guard let value = cursor.integer(T.self) else {
            throw .truncated(path: path, offset: offset, reading: what(), needed: MemoryLayout<T>.size, available: remaining)
        }
        return value
    }

    /// A u64 count of things at least `minimumElementSize` bytes each, bounded by the bytes left.
    mutating func count(
        reading what: @autoclosure () -> String, minimumElementSize: Int
    ) throws(GGUFError) -> Int {
        let start = offset
        let value = try integer(UInt64.self, reading: what())
        let limit = remaining / minimumElementSize
        guard value <= UInt64(limit) else {
            throw .lengthBeyondFile(path: path, offset: start, what: what(), length: value, limit: limit)
        }
        return Int(value)
    }

    package mutating func string(reading what: @autoclosure () -> String) throws(GGUFError) -> String {
        let start = offset
        let length = try integer(UInt64.self, reading: what())
        guard length <= UInt64(remaining), let text = cursor.utf8(count: Int(length)) else {
            throw .lengthBeyondFile(
                path: path, offset: start, what: "the length of \(what())", length: length, limit: remaining)
        }
        guard let text else { throw .invalidUTF8(path: path, offset: start, what: what()) }
        return text
    }

    mutating func valueType(key: String) throws(GGUFError) -> GGUFValueType {
        let start = offset
        let number = try integer(UInt32.self, reading: "the value type of '\(printableInMessage(key))'")
        guard let type = GGUFValueType(rawValue: number) else {
            throw .unknownValueType(path: path, offset: start, key: key, type: number)
        }
        return type
    }

    /// One value of a non-array type.
    mutating func scalar(_ type: GGUFValueType, key: String) throws(GGUFError) -> MetadataValue {
        let what = "the value of '\(printableInMessage(key))'"
        switch type {
        case .uint8: return .uint(UInt64(try integer(UInt8.self, reading: what)))
        case .int8: return .int(Int64(try integer(Int8.self, reading: what)))
        case .uint16: return .uint(UInt64(try integer(UInt16.self, reading: what)))
        case .int16: return .int(Int64(try integer(Int16.self, reading: what)))
        case .uint32: return .uint(UInt64(try integer(UInt32.self, reading: what)))
        case .int32: return .int(Int64(try integer(Int32.self, reading: what)))
        case .uint64: return .uint(try integer(UInt64.self, reading: what))
        case .int64: return .int(try integer(Int64.self, reading: what))
        case .float32: return .float(Double(Float(bitPattern: try integer(UInt32.self, reading: what))))
        case .float64: return .float(Double(bitPattern: try integer(UInt64.self, reading: what)))
        case .bool:
            let start = offset
            let byte = try integer(UInt8.self, reading: what)
            guard byte <= 1 else { throw .invalidBool(path: path, offset: start, key: key, value: byte) }
            return .bool(byte == 1)
        case .string:
            return .string(try string(reading: what))
        case .array:
            preconditionFailure("arrays are read by the caller")
        }
    }
}
