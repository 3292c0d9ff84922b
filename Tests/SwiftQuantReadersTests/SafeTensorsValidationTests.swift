import Testing
import SwiftQuant

/// One test per rule the header must satisfy; each builds the offending bytes by hand.
@Suite("SafeTensors validation")
struct SafeTensorsValidationTests {
    typealias Entry = SafeTensorsFixture.Entry

    /// Writes `bytes`, opens them, and returns the error together with the file's path.
    private func openError(_ bytes: [UInt8]) throws -> (SafeTensorsError, String) {
        let path = try SafeTensorsFixture.write(bytes)
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
        let unwrapped = try #require(error)
        // Every message is one line that names the file.
        #expect(!unwrapped.description.contains("\n"))
        #expect(unwrapped.description.hasPrefix(path + ": "))
        return (unwrapped, path)
    }

    private func openError(header: String, data: [UInt8] = []) throws -> (SafeTensorsError, String) {
        try openError(SafeTensorsFixture.bytes(header: header, data: data))
    }

    // MARK: Header length

    @Test("A file shorter than 8 bytes is HeaderTooSmall", arguments: [0, 1, 7])
    func headerTooSmall(size: Int) throws {
        let (error, path) = try openError([UInt8](repeating: 0, count: size))
        #expect(error == .headerTooSmall(path: path, fileSize: size))
    }

    @Test("A header length over 100,000,000 is HeaderTooLarge", arguments: [UInt64(100_000_001), UInt64.max])
    func headerTooLarge(length: UInt64) throws {
        let (error, path) = try openError(SafeTensorsFixture.bytes(header: "{}", declaredLength: length))
        #expect(error == .headerTooLarge(path: path, headerLength: length))
    }

    @Test("A header length past the end of the file is InvalidHeaderLength")
    func invalidHeaderLength() throws {
        // 100,000,000 is allowed as a length, but this file is nowhere near that long.
        let (limit, limitPath) = try openError(SafeTensorsFixture.bytes(header: "{}", declaredLength: 100_000_000))
        #expect(limit == .invalidHeaderLength(path: limitPath, headerLength: 100_000_000, fileSize: 10))
        let (error, path) = try openError(SafeTensorsFixture.bytes(header: "{}", declaredLength: 3))
        #expect(error == .invalidHeaderLength(path: path, headerLength: 3, fileSize: 10))
    }

    // MARK: JSON

    @Test("Malformed JSON names the byte offset in the file")
    func malformedJSON() throws {
        // {"a" 1}: the parser expects ':' at header offset 5, file offset 13.
        let (error, _) = try openError(header: "{\"a\" 1}")
        guard case .invalidHeaderJSON(_, let offset, let reason) = error else {
            Issue.record("expected invalidHeaderJSON, got \(error)")
            return
        }
        #expect(offset == 13)
        #expect(reason.contains("':'"))
    }

    @Test("Truncated, trailing-garbage and non-JSON headers are rejected", arguments: [
        "{", "{\"a\":", "", "   ", "{} x", "{}{}", "{'a': 1}", "{\"a\":tru}", "{\"a\":01}", "{\"a\":1.}",
        "{\"a\":-}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":[1,]}", "{,}", "{\"a\":1,}",
    ])
    func notJSON(header: String) throws {
        let (error, _) = try openError(header: header)
        guard case .invalidHeaderJSON = error else {
            Issue.record("expected invalidHeaderJSON for \(header), got \(error)")
            return
        }
    }

    @Test("NUL padding after the object is not whitespace")
    func nulPadding() throws {
        let (error, _) = try openError(SafeTensorsFixture.bytes(headerBytes: Array("{}".utf8) + [0, 0]))
        guard case .invalidHeaderJSON(_, let offset, _) = error else {
            Issue.record("expected invalidHeaderJSON, got \(error)")
            return
        }
        #expect(offset == 10)
    }

    @Test("Invalid UTF-8 in the header is rejected at its offset")
    func invalidUTF8() throws {
        // {"\xFF":…}: the bad byte is header offset 2, file offset 10.
        let header = Array("{\"".utf8) + [0xFF] + Array("\":{}}".utf8)
        let (error, _) = try openError(SafeTensorsFixture.bytes(headerBytes: header))
        guard case .invalidHeaderJSON(_, let offset, let reason) = error else {
            Issue.record("expected invalidHeaderJSON, got \(error)")
            return
        }
        #expect(offset == 10)
        #expect(reason.contains("UTF-8"))
        // Overlong encodings and lone continuation bytes are invalid too.
        for bad: [UInt8] in [[0xC0, 0x80], [0x80], [0xED, 0xA0, 0x80]] {
            let bytes = SafeTensorsFixture.bytes(headerBytes: Array("{\"".utf8) + bad + Array("\":{}}".utf8))
            let (other, _) = try openError(bytes)
            guard case .invalidHeaderJSON = other else {
                Issue.record("expected invalidHeaderJSON for \(bad), got \(other)")
                continue
            }
        }
    }

    @Test("A raw control character inside a string is rejected")
    func controlCharacter() throws {
        let (error, _) = try openError(header: "{\"a\nb\":{}}")
        guard case .invalidHeaderJSON(_, 11, let reason) = error else {
            Issue.record("expected invalidHeaderJSON at 11, got \(error)")
            return
        }
        #expect(reason.contains("control character"))
    }

    @Test("Nesting deeper than 128 levels is rejected, not a stack overflow")
    func deepNesting() throws {
        let header = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        let (error, _) = try openError(header: header)
        guard case .invalidHeaderJSON(_, _, let reason) = error else {
            Issue.record("expected invalidHeaderJSON, got \(error)")
            return
        }
        #expect(reason.contains("nesting"))
    }

    @Test("A header that is not an object is rejected", arguments: ["[]", "\"x\"", "1", "null", "true"])
    func notAnObject(header: String) throws {
        let (error, _) = try openError(header: header)
        guard case .headerNotAnObject = error else {
            Issue.record("expected headerNotAnObject for \(header), got \(error)")
            return
        }
    }

    // MARK: __metadata__

    @Test("__metadata__ must map strings to strings", arguments: [
        "{\"__metadata__\":{\"a\":1}}", "{\"__metadata__\":{\"a\":null}}", "{\"__metadata__\":{\"a\":[\"x\"]}}",
        "{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", "{\"__metadata__\":[\"a\"]}", "{\"__metadata__\":\"a\"}",
        "{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", "{\"__metadata__\":{},\"__metadata__\":{}}",
    ])
    func badMetadata(header: String) throws {
        let (error, _) = try openError(header: header)
        guard case .invalidMetadata = error else {
            Issue.record("expected invalidMetadata for \(header), got \(error)")
            return
        }
    }

    @Test("A numeric metadata value is reported at the value's offset")
    func metadataOffset() throws {
        let header = "{\"__metadata__\":{\"format\":7}}"
        let (error, path) = try openError(header: header)
        // The 7 sits at header offset 26, file offset 34.
        #expect(error == .invalidMetadata(path: path, offset: 34, reason: "has key 'format' whose value is a number, not a string"))
    }

    // MARK: Entries

    @Test("Duplicate tensor names are rejected, naming the second occurrence")
    func duplicateNames() throws {
        // Both entries are individually valid and would even cover the buffer; only the
        // duplicate check catches this (JSONSerialization and serde keep one silently).
        let entry = Entry("w", "F32", [1], 0, 4).json
        let header = "{\(entry),\(entry)}"
        let (error, path) = try openError(header: header, data: [0, 0, 0, 0])
        #expect(error == .duplicateTensor(path: path, name: "w", offset: 8 + 1 + entry.utf8.count + 1))
        #expect(error.description.contains("'w'"))
    }

    @Test("Entries missing a field or with a field of the wrong type are rejected", arguments: [
        "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}",
        "{\"w\":[]}",
        "{\"w\":\"F32\"}",
        "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"begin\":0}}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    ])
    func invalidEntry(header: String) throws {
        let (error, _) = try openError(header: header, data: [0, 0, 0, 0])
        guard case .invalidTensorEntry(_, "w", 9, _) = error else {
            Issue.record("expected invalidTensorEntry for w at byte 9 in \(header), got \(error)")
            return
        }
    }

    @Test("Unknown fields in an entry are ignored, as the reference crate ignores them")
    func unknownFieldIgnored() throws {
        let path = try SafeTensorsFixture.write(
            header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"note\":{\"x\":[1]}}}",
            data: [0, 0, 0x80, 0x3F])
        let file = try SafeTensorsFile(path: path)
        #expect(try file.floats(for: "w") == [1])
    }

    @Test("A dtype the format does not define is rejected", arguments: ["F17", "f16", "Q8_0", "Q4_K", "", "FLOAT"])
    func unknownDType(dtype: String) throws {
        let header = "{\"w\":{\"dtype\":\"\(dtype)\",\"shape\":[1],\"data_offsets\":[0,1]}}"
        let (error, path) = try openError(header: header, data: [0])
        #expect(error == .unknownDType(path: path, name: "w", dtype: dtype, offset: 8 + 14))
    }

    // MARK: Offsets and sizes

    @Test("data_offsets that end before they begin are rejected")
    func reversedOffsets() throws {
        let header = SafeTensorsFixture.header([Entry("w", "U8", [4], 4, 0)])
        let (error, path) = try openError(header: header, data: [0, 0, 0, 0])
        #expect(error == .invalidOffsets(path: path, name: "w", begin: 4, end: 0))
    }

    @Test("The first tensor must start at 0")
    func firstTensorNotAtZero() throws {
        let header = SafeTensorsFixture.header([Entry("w", "U8", [4], 4, 8)])
        let (error, path) = try openError(header: header, data: [UInt8](repeating: 0, count: 8))
        #expect(error == .nonContiguousOffsets(path: path, name: "w", begin: 4, expected: 0, previous: nil))
    }

    @Test("A gap between tensors is rejected")
    func gap() throws {
        let header = SafeTensorsFixture.header([Entry("a", "U8", [2], 0, 2), Entry("b", "U8", [2], 3, 5)])
        let (error, path) = try openError(header: header, data: [UInt8](repeating: 0, count: 5))
        #expect(error == .nonContiguousOffsets(path: path, name: "b", begin: 3, expected: 2, previous: "a"))
        #expect(error.description.contains("gap of 1 bytes"))
    }

    @Test("Overlapping tensors are rejected, whatever their header order")
    func overlap() throws {
        // b is listed first but starts later: sorting by offset finds the overlap.
        let header = SafeTensorsFixture.header([Entry("b", "U8", [4], 2, 6), Entry("a", "U8", [4], 0, 4)])
        let (error, path) = try openError(header: header, data: [UInt8](repeating: 0, count: 6))
        #expect(error == .nonContiguousOffsets(path: path, name: "b", begin: 2, expected: 4, previous: "a"))
        #expect(error.description.contains("overlaps"))
    }

    @Test("Two tensors sharing the same bytes are rejected")
    func aliasing() throws {
        let header = SafeTensorsFixture.header([Entry("a", "U8", [4], 0, 4), Entry("b", "U8", [4], 0, 4)])
        let (error, path) = try openError(header: header, data: [UInt8](repeating: 0, count: 4))
        #expect(error == .nonContiguousOffsets(path: path, name: "b", begin: 0, expected: 4, previous: "a"))
    }

    @Test("A size that is not shape × dtype is rejected")
    func sizeMismatch() throws {
        let header = SafeTensorsFixture.header([Entry("w", "F32", [2], 0, 4)])
        let (error, path) = try openError(header: header, data: [0, 0, 0, 0])
        #expect(error == .sizeMismatch(path: path, name: "w", dtype: .f32, shape: [2], expected: 8, actual: 4))
    }

    @Test("Element counts and bit counts that overflow 64 bits are rejected", arguments: [
        ("F16", [1 << 32, 1 << 32]),        // element count overflows
        ("F32", [1 << 62]),                 // × 32 bits overflows
        ("U8", [Int.max, 2]),
    ])
    func overflow(dtype: String, shape: [Int]) throws {
        let header = SafeTensorsFixture.header([Entry("w", dtype, shape, 0, 8)])
        let (error, path) = try openError(header: header, data: [UInt8](repeating: 0, count: 8))
        #expect(error == .sizeOverflow(path: path, name: "w", dtype: DType(rawValue: dtype)!, shape: shape))
    }

    @Test("Sub-byte tensors must fill whole bytes", arguments: [("F4", 3), ("F6_E2M3", 1), ("F6_E3M2", 5)])
    func partialByte(dtype: String, count: Int) throws {
        let header = SafeTensorsFixture.header([Entry("w", dtype, [count], 0, 4)])
        let (error, path) = try openError(header: header, data: [0, 0, 0, 0])
        #expect(error == .partialByte(path: path, name: "w", dtype: DType(rawValue: dtype)!, elementCount: count))
    }

    @Test("Trailing bytes after the last tensor are rejected")
    func trailingBytes() throws {
        let header = SafeTensorsFixture.header([Entry("w", "U8", [2], 0, 2)])
        let (error, path) = try openError(header: header, data: [1, 2, 3])
        #expect(error == .incompleteBuffer(path: path, tensorBytes: 2, dataBytes: 3))
        #expect(error.description.contains("1 bytes after the last tensor"))
    }

    @Test("A truncated data buffer is rejected")
    func truncated() throws {
        let header = SafeTensorsFixture.header([Entry("w", "F32", [4], 0, 16)])
        let (error, path) = try openError(header: header, data: [UInt8](repeating: 0, count: 10))
        #expect(error == .incompleteBuffer(path: path, tensorBytes: 16, dataBytes: 10))
        #expect(error.description.contains("truncated"))
    }

    @Test("Data after an empty header is rejected")
    func dataAfterEmptyHeader() throws {
        let (error, path) = try openError(header: "{}", data: [0])
        #expect(error == .incompleteBuffer(path: path, tensorBytes: 0, dataBytes: 1))
    }

    @Test("Huge offsets cannot overflow the coverage check")
    func hugeOffsets() throws {
        // Eight tensors of Int.max / 8 bytes each end just below Int.max.
        let size = Int.max / 8
        let entries = (0..<8).map { Entry("w\($0)", "U8", [size], $0 * size, ($0 + 1) * size) }
        let (error, path) = try openError(header: SafeTensorsFixture.header(entries), data: [0])
        #expect(error == .incompleteBuffer(path: path, tensorBytes: 8 * size, dataBytes: 1))
    }

    @Test("Tensor names with control characters stay on one line in messages")
    func controlCharactersInNames() throws {
        let entry = "\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
        let (error, _) = try openError(header: "{\(entry),\(entry)}", data: [0, 0, 0, 0])
        guard case .duplicateTensor(_, "a\nb", _) = error else {
            Issue.record("expected duplicateTensor, got \(error)")
            return
        }
        #expect(error.description.contains("'a\\nb'"))
    }
}
