import SwiftQuantCore
import SwiftQuantKernels

/// A SwiftQuant checkpoint opened for reading (`Specs/swiftquant-checkpoint.md`).
///
/// Opening maps the file and validates the whole preamble, header and directory (checksums,
/// every offset, size and count, overlaps, alignment) before anything is used. Tensors are
/// decoded only when asked for; every chunk's checksum is verified as it is read, and raw
/// tensors come back zero-copy as views into the map.
public final class CheckpointFile: TensorSource, @unchecked Sendable {
    public let path: String
    public var formatName: String { "swiftquant" }
    /// The directory, in file order.
    public let entries: [CheckpointEntry]
    public let tensors: [TensorInfo]
    public let metadata: [String: MetadataValue]
    /// The format version the file was written with.
    public let majorVersion: Int
    public let minorVersion: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int
    public let alignment: Int

    let file: MappedFile
    private let index: [ByteExactName: Int]

    /// Maps and validates the checkpoint at `path`.
    ///
    /// - Throws: `FileError` when the file cannot be opened, ``CheckpointError`` when it is
    ///   not a valid checkpoint.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Validates an already mapped file.
    public init(file: MappedFile) throws(CheckpointError) {
        self.file = file
        path = file.path
        let bytes = file.bytes
        let preambleSize = CheckpointFormat.preambleSize
        guard CheckpointFormat.hasMagic(bytes) else { throw .notACheckpoint(path: path) }
        guard bytes.count >= preambleSize else {
            throw .wrongLength(path: path, expected: preambleSize, actual: bytes.count)
        }
        var preamble = CheckpointHeaderCursor(bytes: bytes, position: 8, end: preambleSize, path: path)
        let version = try preamble.u32("version")
        let major = Int(version & 0xFFFF), minor = Int(version >> 16)
        guard major == Int(CheckpointFormat.majorVersion) else {
            throw .unsupportedVersion(path: path, major: major, minor: minor)
        }
        majorVersion = major
        minorVersion = minor
        let storedPreambleChecksum = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 56, as: UInt64.self))
        guard checkpointChecksum(UnsafeRawBufferPointer(rebasing: bytes[0..<56])) == storedPreambleChecksum else {
            throw .headerChecksumMismatch(path: path, offset: 0)
        }
        let alignmentValue = Int(try preamble.u32("alignment"))
        guard alignmentValue >= CheckpointFormat.minimumAlignment, alignmentValue <= CheckpointFormat.maximumAlignment,
              alignmentValue & (alignmentValue - 1) == 0
        else {
            throw .malformedHeader(path: path, offset: 12, reason: "alignment \(alignmentValue) is not a power of two between 64 and 1 MiB")
        }
        alignment = alignmentValue
        let headerLength = try preamble.size("header length")
        let dataStart = try preamble.size("data offset")
        let fileLength = try preamble.size("file length")
        let headerChecksum = try preamble.u64("header checksum")
        guard fileLength == bytes.count else {
            throw .wrongLength(path: path, expected: fileLength, actual: bytes.count)
        }
        guard headerLength <= bytes.count - preambleSize else {
            throw .malformedHeader(path: path, offset: 16, reason: "header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let headerEnd = preambleSize + headerLength
        guard dataStart >= headerEnd, dataStart <= bytes.count, dataStart % alignmentValue == 0 else {
            throw .malformedHeader(path: path, offset: 24, reason: "data offset \(dataStart) is not an aligned offset between the header end \(headerEnd) and the file end \(bytes.count)")
        }
        dataOffset = dataStart
        guard checkpointChecksum(UnsafeRawBufferPointer(rebasing: bytes[preambleSize..<headerEnd])) == headerChecksum else {
            throw .headerChecksumMismatch(path: path, offset: preambleSize)
        }

        var cursor = CheckpointHeaderCursor(bytes: bytes, position: preambleSize, end: headerEnd, path: path)
        metadata = try Self.readMetadata(&cursor)
        let entries = try Self.readDirectory(&cursor)
        try Self.validateLayout(entries, path: path, dataOffset: dataStart, fileLength: bytes.count, alignment: alignmentValue)
        self.entries = entries
        tensors = entries.map(\.tensorInfo)
        var index: [ByteExactName: Int] = [:]
        for (position, entry) in entries.enumerated() { index[ByteExactName(entry.name)] = position }
        self.index = index
    }

    /// Looks a tensor up by name without scanning.
    public func info(for name: String) -> TensorInfo? {
        index[ByteExactName(name)].map { tensors[$0] }
    }

    /// The directory entry of `name`.
    public func entry(named name: String) throws(TensorSourceError) -> CheckpointEntry {
        guard let position = index[ByteExactName(name)] else { throw .noSuchTensor(path: path, name: name) }
        return entries[position]
    }

    // MARK: - Header parsing

    private static func readMetadata(_ cursor: inout CheckpointHeaderCursor) throws(CheckpointError) -> [String: MetadataValue] {
        let countAt = cursor.position
        let count = Int(try cursor.u32("metadata count"))
        // Every pair takes at least 5 bytes (empty key length + type): bound the count first.
        guard count <= cursor.remaining / 5 else {
            throw cursor.fail(countAt, "metadata count \(count) exceeds what the header can hold")
        }
        var metadata: [String: MetadataValue] = [:]
        metadata.reserveCapacity(count)
        for _ in 0..<count {
            let keyAt = cursor.position
            let key = try cursor.string("metadata key")
            guard !key.isEmpty else { throw cursor.fail(keyAt, "empty metadata key") }
            guard metadata[key] == nil else { throw cursor.fail(keyAt, "duplicate metadata key '\(printableInMessage(key))'") }
            metadata[key] = try readValue(&cursor, depth: 0)
        }
        return metadata
    }

    private static func readValue(_ cursor: inout CheckpointHeaderCursor, depth: Int) throws(CheckpointError) -> MetadataValue {
        let typeAt = cursor.position
        let code = try cursor.u8("metadata value type")
        guard let type = CheckpointValueType(rawValue: code) else {
            throw cursor.fail(typeAt, "unknown metadata value type \(code)")
        }
        switch type {
        case .string: return .string(try cursor.string("metadata string"))
        case .int: return .int(Int64(bitPattern: try cursor.u64("metadata integer")))
        case .uint: return .uint(try cursor.u64("metadata integer"))
        case .float: return .float(try cursor.f64("metadata float"))
        case .bool:
            let value = try cursor.u8("metadata bool")
            guard value <= 1 else { throw cursor.fail(typeAt + 1, "bool value \(value) is not 0 or 1") }
            return .bool(value == 1)
        case .array:
            guard depth < CheckpointFormat.maximumNesting else {
                throw cursor.fail(typeAt, "metadata arrays nest deeper than \(CheckpointFormat.maximumNesting)")
            }
            let countAt = cursor.position
            let count = Int(try cursor.u32("array count"))
            // Every element takes at least 2 bytes (type + a bool).
            guard count <= cursor.remaining / 2 else {
                throw cursor.fail(countAt, "array count \(count) exceeds what the header can hold")
            }
            var values: [MetadataValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readValue(&cursor, depth: depth + 1)) }
            return .array(values)
        }
    }

    private static func readDirectory(_ cursor: inout CheckpointHeaderCursor) throws(CheckpointError) -> [CheckpointEntry] {
        let countAt = cursor.position
        let count = Int(try cursor.u32("tensor count"))
        guard count <= cursor.remaining / 4 else {
            throw cursor.fail(countAt, "tensor count \(count) exceeds what the header can hold")
        }
        var entries: [CheckpointEntry] = []
        entries.reserveCapacity(count)
        var names: Set<ByteExactName> = []
        for _ in 0..<count {
            let entryAt = cursor.position
            let length = Int(try cursor.u32("directory entry length"))
            let start = try cursor.take(length, "directory entry")
            var fields = CheckpointHeaderCursor(bytes: cursor.bytes, position: start, end: start + length, path: cursor.path)
            let entry = try readEntry(&fields)
            guard names.insert(ByteExactName(entry.name)).inserted else {
                throw .malformedEntry(path: cursor.path, tensor: entry.name, offset: entryAt, reason: "duplicate tensor name")
            }
            entries.append(entry)
        }
        // Bytes after the directory belong to later minor versions; this reader ignores them.
        return entries
    }

    private static func readEntry(_ cursor: inout CheckpointHeaderCursor) throws(CheckpointError) -> CheckpointEntry {
        let path = cursor.path
        let entryStart = cursor.position
        let name = try cursor.string("tensor name")
        guard !name.isEmpty else { throw cursor.fail(entryStart, "empty tensor name") }
        cursor.fail = { offset, reason in .malformedEntry(path: path, tensor: name, offset: offset, reason: reason) }
        let dtypeAt = cursor.position
        let dtype = try readDType(&cursor, "dtype")
        // The stored values are plain elements; ggml block types are only valid as source_dtype.
        guard !dtype.isBlockQuantized else {
            throw cursor.fail(dtypeAt, "dtype \(dtype.rawValue) is a ggml block type, which a checkpoint stores only as source_dtype")
        }
        let sourceDType = try readDType(&cursor, "source dtype")
        let rankAt = cursor.position
        let rank = Int(try cursor.u8("rank"))
        guard rank <= CheckpointFormat.maximumRank else {
            throw cursor.fail(rankAt, "rank \(rank) exceeds \(CheckpointFormat.maximumRank)")
        }
        var shape: [Int] = []
        for _ in 0..<rank { shape.append(try cursor.size("dimension")) }
        // The product of the non-zero dimensions must fit too: a zero must not hide an
        // overflow that rows × columns or the scale count would hit later.
        guard let elements = shape.checkedElementCount, shape.map({ max($0, 1) }).checkedElementCount != nil else {
            throw cursor.fail(rankAt, "shape \(shape) has too many elements")
        }
        let quantizationAt = cursor.position
        let quantizationCode = try cursor.u8("quantization")
        let groupSize = try cursor.size("group size")
        let metricValues = [
            try cursor.f32("max_abs_error"), try cursor.f32("mean_abs_error"),
            try cursor.f32("relative_error_pct"), try cursor.f32("snr_db"),
        ]
        let quantization: Granularity?
        switch CheckpointQuantizationCode(rawValue: quantizationCode) {
        case .none?: quantization = nil
        case .perTensor?: quantization = .perTensor
        case .perChannel?: quantization = .perChannel
        case .perGroup?:
            let columns = matrixView(of: shape).columns
            guard groupSize > 0, columns % groupSize == 0 else {
                throw cursor.fail(quantizationAt, "group size \(groupSize) does not divide the row length \(columns)")
            }
            quantization = .perGroup(size: groupSize)
        case nil:
            throw cursor.fail(quantizationAt, "unknown quantization \(quantizationCode)")
        }
        if quantization?.groupSize == nil, groupSize != 0 {
            throw cursor.fail(quantizationAt + 1, "group size \(groupSize) set on a tensor that is not quantized per group")
        }
        let values = try readSegment(&cursor, "values")
        guard let expected = dtype.byteCount(elementCount: elements), values.rawLength == expected else {
            throw cursor.fail(entryStart, "values hold \(values.rawLength) bytes but \(dtype.rawValue) \(shape) needs \(dtype.byteCount(elementCount: elements).map(String.init) ?? "an impossible size")")
        }
        var scales: CheckpointSegment?
        var metrics: QuantizationErrorMetrics?
        if let quantization {
            guard dtype == .i8 else { throw cursor.fail(entryStart, "a quantized tensor must store I8, not \(dtype.rawValue)") }
            let segment = try readSegment(&cursor, "scales")
            let (bytes, overflow) = scaleCount(shape: shape, granularity: quantization).multipliedReportingOverflow(by: 4)
            guard !overflow, segment.rawLength == bytes else {
                throw cursor.fail(entryStart, "scales hold \(segment.rawLength) bytes but \(quantization) of \(shape) needs \(overflow ? "more than 2^63" : String(bytes))")
            }
            scales = segment
            if metricValues.allSatisfy({ !$0.isNaN }) {
                metrics = QuantizationErrorMetrics(
                    maxAbsError: metricValues[0], meanAbsError: metricValues[1],
                    relativeErrorPercent: metricValues[2], snrDecibels: metricValues[3])
            }
        }
        // Bytes after the known fields belong to later minor versions; ignore them.
        return CheckpointEntry(
            name: name, dtype: dtype, sourceDType: sourceDType, shape: shape, quantization: quantization,
            metrics: metrics, values: values, scales: scales)
    }

    private static func readDType(_ cursor: inout CheckpointHeaderCursor, _ what: String) throws(CheckpointError) -> DType {
        let at = cursor.position
        let spelling = try cursor.string(what)
        guard let dtype = DType(rawValue: spelling) else {
            throw cursor.fail(at, "unknown \(what) '\(printableInMessage(spelling))' (a newer swiftquant may know it)")
        }
        return dtype
    }

    private static func readSegment(_ cursor: inout CheckpointHeaderCursor, _ what: String) throws(CheckpointError) -> CheckpointSegment {
        let start = cursor.position
        let code = try cursor.u8("\(what) codec")
        guard let codec = CheckpointCodec(rawValue: code) else {
            throw cursor.fail(start, "unknown \(what) codec \(code); a newer swiftquant wrote this file, upgrade swiftquant")
        }
        let planeWidth = Int(try cursor.u8("\(what) plane width"))
        let offset = try cursor.size("\(what) offset")
        let rawLength = try cursor.size("\(what) raw length")
        let storedLength = try cursor.size("\(what) stored length")
        let chunkSize = try cursor.size("\(what) chunk size")
        let countAt = cursor.position
        let chunkCount = try cursor.size("\(what) chunk count")
        guard chunkSize > 0, chunkSize <= CheckpointFormat.maximumChunkSize else {
            throw cursor.fail(countAt - 8, "\(what) chunk size \(chunkSize) is not between 1 and 1 GiB")
        }
        guard planeWidth >= 1, planeWidth <= 8, codec == .zstdPlanes || planeWidth == 1,
              chunkSize % planeWidth == 0, rawLength % planeWidth == 0
        else {
            throw cursor.fail(start + 1, "\(what) plane width \(planeWidth) does not fit codec \(codec.name), chunk size \(chunkSize) and length \(rawLength)")
        }
        guard chunkCount == CheckpointSegment.chunkCount(rawLength: rawLength, chunkSize: chunkSize) else {
            throw cursor.fail(countAt, "\(what) has \(chunkCount) chunks but \(rawLength) bytes in chunks of \(chunkSize) make \(CheckpointSegment.chunkCount(rawLength: rawLength, chunkSize: chunkSize))")
        }
        guard chunkCount <= cursor.remaining / 16 else {
            throw cursor.fail(countAt, "\(what) chunk table of \(chunkCount) entries runs past the entry")
        }
        var chunks: [CheckpointChunk] = []
        chunks.reserveCapacity(chunkCount)
        var total = 0
        for chunk in 0..<chunkCount {
            let chunkAt = cursor.position
            let length = try cursor.size("chunk length")
            let checksum = try cursor.u64("chunk checksum")
            let rawChunk = min(chunkSize, rawLength - chunk * chunkSize)
            guard length > 0, codec != .raw || length == rawChunk else {
                throw cursor.fail(chunkAt, "\(what) chunk \(chunk) has stored length \(length)")
            }
            let (sum, overflow) = total.addingReportingOverflow(length)
            guard !overflow else { throw cursor.fail(chunkAt, "\(what) chunk lengths overflow") }
            total = sum
            chunks.append(CheckpointChunk(storedLength: length, checksum: checksum))
        }
        guard total == storedLength else {
            throw cursor.fail(start, "\(what) stored length \(storedLength) is not the sum of its chunks (\(total))")
        }
        return CheckpointSegment(
            codec: codec, planeWidth: planeWidth, offset: offset, rawLength: rawLength,
            storedLength: storedLength, chunkSize: chunkSize, chunks: chunks)
    }

    /// Every segment must be aligned, inside the data section, and apart from every other.
    private static func validateLayout(
        _ entries: [CheckpointEntry], path: String, dataOffset: Int, fileLength: Int, alignment: Int
    ) throws(CheckpointError) {
        var ranges: [(range: Range<Int>, tensor: String)] = []
        for entry in entries {
            for segment in [entry.values, entry.scales].compactMap({ $0 }) {
                let (end, overflow) = segment.offset.addingReportingOverflow(segment.storedLength)
                guard !overflow, segment.offset >= dataOffset, end <= fileLength, segment.offset % alignment == 0 else {
                    throw .malformedEntry(
                        path: path, tensor: entry.name, offset: segment.offset,
                        reason: "\(segment.storedLength) stored bytes at offset \(segment.offset) are not an aligned range inside the data section [\(dataOffset), \(fileLength))")
                }
                if segment.storedLength > 0 { ranges.append((segment.offset..<end, entry.name)) }
            }
        }
        ranges.sort { $0.range.lowerBound < $1.range.lowerBound }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where previous.range.overlaps(next.range) {
            throw .malformedEntry(
                path: path, tensor: next.tensor, offset: next.range.lowerBound,
                reason: "its data overlaps tensor '\(previous.tensor)'")
        }
    }
}
