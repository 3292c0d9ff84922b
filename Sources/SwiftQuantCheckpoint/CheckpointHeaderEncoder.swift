import SwiftQuantCore
import SwiftQuantKernels

/// Serialises the preamble and header exactly as `Specs/swiftquant-checkpoint.md` defines them.
enum CheckpointHeaderEncoder {
    static func preamble(alignment: Int, headerLength: Int, dataOffset: Int, fileLength: Int, headerChecksum: UInt64) -> [UInt8] {
        var bytes = CheckpointFormat.magic
        bytes.appendLittleEndian(CheckpointFormat.majorVersion)
        bytes.appendLittleEndian(CheckpointFormat.minorVersion)
        bytes.appendLittleEndian(UInt32(alignment))
        bytes.appendLittleEndian(UInt64(headerLength))
        bytes.appendLittleEndian(UInt64(dataOffset))
        bytes.appendLittleEndian(UInt64(fileLength))
        bytes.appendLittleEndian(headerChecksum)
        bytes.appendLittleEndian(UInt64(0))
        let checksum = bytes.withUnsafeBytes { checkpointChecksum($0) }
        bytes.appendLittleEndian(checksum)
        return bytes
    }

    static func header(metadata: [String: MetadataValue], entries: [CheckpointEntry]) -> [UInt8] {
        var bytes: [UInt8] = []
        appendMetadata(metadata, to: &bytes)
        bytes.appendLittleEndian(UInt32(entries.count))
        for entry in entries {
            var fields: [UInt8] = []
            append(entry, to: &fields)
            bytes.appendLittleEndian(UInt32(fields.count))
            bytes += fields
        }
        return bytes
    }

    /// Bytes the metadata takes (count included).
    static func metadataSize(_ metadata: [String: MetadataValue]) -> Int {
        var bytes: [UInt8] = []
        appendMetadata(metadata, to: &bytes)
        return bytes.count
    }

    /// The most bytes `tensor`'s entry can take, whatever the converter decides for it.
    static func entrySizeBound(for tensor: TensorInfo, chunkSize: Int) -> Int {
        let elements = tensor.shape.checkedElementCount ?? 0
        let longestDType = DType.allCases.map(\.rawValue.utf8.count).max() ?? 16
        let valueBytes = max(tensor.byteCount, elements * 8)
        let scaleBytes = elements * 4 + 4
        func segment(_ raw: Int) -> Int { 42 + 16 * CheckpointSegment.chunkCount(rawLength: raw, chunkSize: chunkSize) }
        return 4 + (4 + tensor.name.utf8.count) + 2 * (4 + longestDType) + 1 + 8 * tensor.shape.count
            + 1 + 8 + 16 + segment(valueBytes) + segment(scaleBytes)
    }

    private static func appendMetadata(_ metadata: [String: MetadataValue], to bytes: inout [UInt8]) {
        bytes.appendLittleEndian(UInt32(metadata.count))
        // Sorted by key bytes: the same metadata always gives the same header.
        for key in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            bytes.appendString(key)
            append(metadata[key]!, to: &bytes)
        }
    }

    private static func append(_ value: MetadataValue, to bytes: inout [UInt8]) {
        switch value {
        case .string(let text):
            bytes.append(CheckpointValueTypeCode.string)
            bytes.appendString(text)
        case .int(let number):
            bytes.append(CheckpointValueTypeCode.int)
            bytes.appendLittleEndian(UInt64(bitPattern: number))
        case .uint(let number):
            bytes.append(CheckpointValueTypeCode.uint)
            bytes.appendLittleEndian(number)
        case .float(let number):
            bytes.append(CheckpointValueTypeCode.float)
            bytes.appendLittleEndian(number.bitPattern)
        case .bool(let flag):
            bytes.append(CheckpointValueTypeCode.bool)
            bytes.append(flag ? 1 : 0)
        case .array(let values):
            bytes.append(CheckpointValueTypeCode.array)
            bytes.appendLittleEndian(UInt32(values.count))
            for element in values { append(element, to: &bytes) }
        }
    }

    private static func append(_ entry: CheckpointEntry, to bytes: inout [UInt8]) {
        bytes.appendString(entry.name)
        bytes.appendString(entry.dtype.rawValue)
        bytes.appendString(entry.sourceDType.rawValue)
        bytes.append(UInt8(entry.shape.count))
        for dimension in entry.shape { bytes.appendLittleEndian(UInt64(dimension)) }
        switch entry.quantization {
        case nil: bytes.append(0)
        case .perTensor?: bytes.append(1)
        case .perChannel?: bytes.append(2)
        case .perGroup?: bytes.append(3)
        }
        bytes.appendLittleEndian(UInt64(entry.quantization?.groupSize ?? 0))
        let metrics = entry.metrics
        for value in [metrics?.maxAbsError, metrics?.meanAbsError, metrics?.relativeErrorPercent, metrics?.snrDecibels] {
            bytes.appendLittleEndian((value ?? .nan).bitPattern)
        }
        append(entry.values, to: &bytes)
        if let scales = entry.scales { append(scales, to: &bytes) }
    }

    private static func append(_ segment: CheckpointSegment, to bytes: inout [UInt8]) {
        bytes.append(segment.codec.rawValue)
        bytes.append(UInt8(segment.planeWidth))
        bytes.appendLittleEndian(UInt64(segment.offset))
        bytes.appendLittleEndian(UInt64(segment.rawLength))
        bytes.appendLittleEndian(UInt64(segment.storedLength))
        bytes.appendLittleEndian(UInt64(segment.chunkSize))
        bytes.appendLittleEndian(UInt64(segment.chunks.count))
        for chunk in segment.chunks {
            bytes.appendLittleEndian(UInt64(chunk.storedLength))
            bytes.appendLittleEndian(chunk.checksum)
        }
    }
}

/// The metadata type tags of the spec (the reader's enum is internal to its module).
enum CheckpointValueTypeCode {
    package static let string: UInt8 = 0, int: UInt8 = 1, uint: UInt8 = 2, float: UInt8 = 3, bool: UInt8 = 4, array: UInt8 = 5
}

extension Array where Element == UInt8 {
    /// A u32 byte length, then the UTF-8 bytes.
    mutating func appendString(_ text: String) {
        appendLittleEndian(UInt32(text.utf8.count))
        append(contentsOf: text.utf8)
    }
}
