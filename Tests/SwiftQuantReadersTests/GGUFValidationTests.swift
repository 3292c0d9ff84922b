import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantGGUF

/// Crafted GGUF files, one per way llama.cpp's parser has been broken (see REFERENCE.md's
/// CVE list). Each must be rejected with the specific ``GGUFError`` case: never a crash, a
/// trap or a huge allocation.
@Suite struct GGUFValidationTests {
    /// Byte offset of the first tensor info in ``GGUFFixture/valid``: header (24) plus the
    /// `general.architecture` entry (8 + 20 key bytes, 4 type, 8 + 5 value bytes).
    let firstTensorInfo = 24 + 28 + 4 + 13

    func expectError(_ fixture: GGUFFixture, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectError(fixture.bytes, expected, sourceLocation: sourceLocation)
    }

    func expectError(_ bytes: [UInt8], _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let error = try ggufError(bytes)
        #expect(error?.caseName == expected, "got \(String(describing: error))", sourceLocation: sourceLocation)
        if let error {
            let line = error.description
            #expect(!line.contains("\n"), sourceLocation: sourceLocation)
            #expect(line.hasPrefix(fixtureFolder.path), "names the file", sourceLocation: sourceLocation)
        }
    }

    @Test func validFixtureOpens() throws {
        let file = try openGGUF(GGUFFixture.valid.bytes)
        #expect(file.tensors.map(\.name) == ["a", "b"])
    }

    // MARK: Magic and version

    @Test func badMagic() throws {
        var fixture = GGUFFixture.valid
        fixture.magic = Array("GGML".utf8)
        try expectError(fixture, "badMagic")
        try expectError([], "badMagic")
        try expectError(Array("GG".utf8), "badMagic")
        #expect(try ggufError(fixture.bytes)?.description.contains("'GGML'") == true)
    }

    @Test(arguments: [UInt32(0), 1, 4, 0xFFFF])
    func unsupportedVersion(version: UInt32) throws {
        var fixture = GGUFFixture.valid
        fixture.version = version
        try expectError(fixture, "unsupportedVersion")
    }

    @Test func bigEndianFileIsNamedAsSuch() throws {
        var fixture = GGUFFixture.valid
        fixture.version = UInt32(3).byteSwapped
        try expectError(fixture, "bigEndian")
        fixture.version = UInt32(2).byteSwapped
        try expectError(fixture, "bigEndian")
    }

    @Test func version2Opens() throws {
        var fixture = GGUFFixture.valid
        fixture.version = 2
        #expect(try openGGUF(fixture.bytes).version == 2)
    }

    // MARK: Counts and lengths beyond the file

    @Test(arguments: [UInt64(3), 1 << 40, UInt64(Int64.max), UInt64.max])
    func tensorCountBeyondFile(count: UInt64) throws {
        var fixture = GGUFFixture.valid
        fixture.tensorCount = count
        // Three tensor infos of 24+ bytes each still fit in the file's bytes (the data section),
        // so that case fails later, reading garbage as a tensor info; the huge ones fail at once.
        let error = try ggufError(fixture.bytes)
        #expect(error != nil)
        if count > 1000 { #expect(error?.caseName == "lengthBeyondFile") }
    }

    @Test(arguments: [UInt64(1 << 40), UInt64(Int64.max), UInt64.max])
    func entryCountBeyondFile(count: UInt64) throws {
        var fixture = GGUFFixture.valid
        fixture.entryCount = count
        try expectError(fixture, "lengthBeyondFile")
    }

    @Test func keyLengthBeyondFile() throws {
        var bytes = GGUFBytes()
        bytes.raw(Array("GGUF".utf8))
        bytes.u32(3)
        bytes.u64(0)
        bytes.u64(1)
        bytes.u64(UInt64(1) << 62)  // key length
        bytes.raw(Array("general".utf8))
        try expectError(bytes.bytes, "lengthBeyondFile")
        let error = try ggufError(bytes.bytes)
        #expect(error?.description.contains("byte 24") == true)
    }

    @Test func stringValueLengthBeyondFile() throws {
        var fixture = GGUFFixture.valid
        fixture.add(key: "general.name") { $0.u32(GGUFValueType.string.rawValue); $0.u64(UInt64.max - 3) }
        try expectError(fixture, "lengthBeyondFile")
    }

    @Test func arrayCountBeyondFile() throws {
        for (elementType, count) in [(GGUFValueType.uint8, UInt64(1) << 62), (.string, 1 << 40), (.uint64, 1000)] {
            var fixture = GGUFFixture.valid
            fixture.add(key: "tokenizer.ggml.tokens") {
                $0.u32(GGUFValueType.array.rawValue)
                $0.u32(elementType.rawValue)
                $0.u64(count)
            }
            try expectError(fixture, "lengthBeyondFile")
        }
    }

    @Test func countsBeyondTheLimitThatFitTheFile() throws {
        // 2^20 + 1 tensor infos or entries could fit in a file of 25+ MB; the counts alone are
        // refused, before anything is read or allocated.
        var bytes = GGUFBytes()
        bytes.raw(Array("GGUF".utf8))
        bytes.u32(3)
        bytes.u64(UInt64(GGUFFormat.maximumCount + 1))
        bytes.u64(0)
        bytes.raw([UInt8](repeating: 0, count: 24 * (GGUFFormat.maximumCount + 1)))
        try expectError(bytes.bytes, "countTooLarge")
        var entries = GGUFBytes()
        entries.raw(Array("GGUF".utf8))
        entries.u32(3)
        entries.u64(0)
        entries.u64(UInt64(GGUFFormat.maximumCount + 1))
        entries.raw([UInt8](repeating: 0, count: 13 * (GGUFFormat.maximumCount + 1)))
        try expectError(entries.bytes, "countTooLarge")
    }

    @Test func metadataArraysBeyondTheElementLimit() throws {
        // 2^23 + 1 one-byte elements fit in the file, but would become as many MetadataValues.
        let limit = GGUFFormat.maximumMetadataArrayElements
        var fixture = GGUFFixture.valid
        fixture.add(key: "custom.bytes") {
            $0.u32(GGUFValueType.array.rawValue); $0.u32(GGUFValueType.uint8.rawValue); $0.u64(UInt64(limit + 1))
            $0.raw([UInt8](repeating: 0, count: limit + 1))
        }
        try expectError(fixture, "metadataTooLarge")
        // The limit counts all arrays together.
        var split = GGUFFixture.valid
        for half in 0..<2 {
            split.add(key: "custom.half\(half)") {
                $0.u32(GGUFValueType.array.rawValue); $0.u32(GGUFValueType.uint8.rawValue); $0.u64(UInt64(limit / 2 + 1))
                $0.raw([UInt8](repeating: 0, count: limit / 2 + 1))
            }
        }
        try expectError(split, "metadataTooLarge")
    }

    @Test func tensorNameLengthBeyondFile() throws {
        var bytes = GGUFBytes()
        bytes.raw(Array("GGUF".utf8))
        bytes.u32(3)
        bytes.u64(1)
        bytes.u64(0)
        bytes.u64(UInt64.max)  // name length
        bytes.raw([UInt8](repeating: 0, count: 32))
        try expectError(bytes.bytes, "lengthBeyondFile")
    }

    // MARK: Shapes

    @Test func moreThanFourDimensions() throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[0].dimensions = [1, 1, 1, 1, 8]
        try expectError(fixture, "tooManyDimensions")
        fixture.tensors[0].dimensions = [1, 1, 1, 1, 1, 1, 1, 8]
        try expectError(fixture, "tooManyDimensions")
        // 0xFFFFFFFF dimensions must not be read (or allocated) one by one.
        var bytes = GGUFFixture.valid.bytes
        let nDims = firstTensorInfo + 8 + 1
        bytes.replaceSubrange(nDims..<nDims + 4, with: [0xFF, 0xFF, 0xFF, 0xFF])
        try expectError(bytes, "tooManyDimensions")
    }

    static let overflowingDimensions: [[UInt64]] = [
        [1 << 32, 1 << 32],  // elements overflow Int64
        [UInt64.max],  // one dimension beyond Int64
        [1 << 63, 1],
        [1 << 31, 1 << 31],  // 2^62 elements fit, 2^64 bytes (F32) do not
        [1 << 40, 1 << 40, 0],  // empty, but ggml rejects it too: the other dimensions overflow
        [0, 1 << 40, 1 << 40],
    ]

    @Test(arguments: overflowingDimensions)
    func dimensionProductsThatOverflow(dimensions: [UInt64]) throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[0].dimensions = dimensions
        try expectError(fixture, "shapeOverflow")
    }

    @Test func zeroDimensionIsAnEmptyTensor() throws {
        // ggml allows empty tensors; llama.cpp's old division by a zero dimension was a CVE, here
        // the element count is simply 0.
        var fixture = GGUFFixture.valid
        fixture.tensors.insert(FixtureTensor(name: "empty", dimensions: [0, 5], type: 0, data: []), at: 1)
        let file = try openGGUF(fixture.bytes)
        let empty = try #require(file.info(for: "empty"))
        #expect(empty.shape == [5, 0])
        #expect(empty.byteCount == 0)
        #expect(try file.floats(for: "empty").isEmpty)
        #expect(try file.floats(for: "b") == [1.5, 1.5, 1.5])
    }

    // MARK: Types

    @Test(arguments: [UInt32(4), 5, 31, 38, 40, 1000, UInt32.max])
    func unknownTensorType(type: UInt32) throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[0].type = type
        try expectError(fixture, "unknownTensorType")
    }

    @Test(arguments: [UInt32(13), 255, UInt32.max])
    func unknownValueType(type: UInt32) throws {
        var fixture = GGUFFixture.valid
        fixture.add(key: "custom.value") { $0.u32(type); $0.u32(0) }
        try expectError(fixture, "unknownValueType")
        var array = GGUFFixture.valid
        array.add(key: "custom.array") { $0.u32(GGUFValueType.array.rawValue); $0.u32(type); $0.u64(1); $0.u32(0) }
        try expectError(array, "unknownValueType")
    }

    @Test func arrayOfArrays() throws {
        var fixture = GGUFFixture.valid
        fixture.add(key: "custom.nested") {
            $0.u32(GGUFValueType.array.rawValue)
            $0.u32(GGUFValueType.array.rawValue)
            $0.u64(1)
            $0.u32(GGUFValueType.uint8.rawValue)
            $0.u64(1)
            $0.u8(7)
        }
        try expectError(fixture, "nestedArray")
    }

    @Test func boolOtherThanZeroOrOne() throws {
        var fixture = GGUFFixture.valid
        fixture.add(key: "custom.flag") { $0.u32(GGUFValueType.bool.rawValue); $0.u8(2) }
        try expectError(fixture, "invalidBool")
        var array = GGUFFixture.valid
        array.add(key: "custom.flags") {
            $0.u32(GGUFValueType.array.rawValue); $0.u32(GGUFValueType.bool.rawValue); $0.u64(3)
            $0.raw([0, 1, 0xFF])
        }
        try expectError(array, "invalidBool")
    }

    @Test func rowLengthNotAMultipleOfTheBlock() throws {
        var fixture = GGUFFixture.valid
        // Q8_0 rows of 33 values (dimensions fastest first: the row is dimensions[0]).
        fixture.tensors[0] = FixtureTensor(
            name: "a", dimensions: [33, 2], type: 8, data: [UInt8](repeating: 0, count: 34 * 2))
        try expectError(fixture, "rowNotMultipleOfBlock")
        // 64 rows of 32 make 2048 values, a whole number of Q4_K blocks of 256, but each row is not.
        fixture.tensors[0] = FixtureTensor(
            name: "a", dimensions: [32, 64], type: 12, data: [UInt8](repeating: 0, count: 144 * 8))
        try expectError(fixture, "rowNotMultipleOfBlock")
        // A Q8_0 scalar has a row of one value.
        fixture.tensors[0] = FixtureTensor(name: "a", dimensions: [], type: 8, data: [])
        try expectError(fixture, "rowNotMultipleOfBlock")
    }

    // MARK: Data offsets

    @Test func misalignedOffset() throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[1].offset = 33
        try expectError(fixture, "misalignedTensorData")
        fixture.tensors[1].offset = 48
        try expectError(fixture, "misalignedTensorData")
    }

    @Test func offsetsOutOfOrder() throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[0].offset = 32
        fixture.tensors[1].offset = 0
        try expectError(fixture, "tensorsOutOfOrder")
    }

    @Test func overlappingData() throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[1].offset = 0  // "a" takes bytes 0..<32 of the data section
        try expectError(fixture, "overlappingTensorData")
        fixture.tensors[0].dimensions = [16, 2]  // 128 bytes
        fixture.tensors[0].data = [UInt8](repeating: 0, count: 128)
        fixture.tensors[1].offset = 64
        try expectError(fixture, "overlappingTensorData")
    }

    @Test(arguments: [UInt64(4096), 1 << 40, UInt64.max - 31])
    func dataPastTheEnd(offset: UInt64) throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[1].offset = offset
        try expectError(fixture, "tensorDataPastEnd")
    }

    @Test func dataSectionCutShort() throws {
        let bytes = GGUFFixture.valid.bytes
        // Tensor "b" (12 bytes) starts 32 bytes into the data section, 44 bytes from the end
        // with its padding; cutting 21 bytes leaves it one byte short.
        try expectError(Array(bytes.dropLast(21)), "tensorDataPastEnd")
        // Trailing padding after the last tensor is not required.
        #expect(try ggufError(Array(bytes.dropLast(20))) == nil)
    }

    // MARK: Alignment

    @Test(arguments: [UInt32(0), 3, 48, 1 << 21, 1 << 30, UInt32.max])
    func invalidAlignment(value: UInt32) throws {
        var fixture = GGUFFixture.valid
        fixture.add(key: "general.alignment", uint32: value)
        try expectError(fixture, "invalidAlignment")
    }

    @Test func alignmentOfTheWrongType() throws {
        let encodings: [(inout GGUFBytes) -> Void] = [
            { $0.u32(GGUFValueType.uint64.rawValue); $0.u64(32) },
            { $0.u32(GGUFValueType.int32.rawValue); $0.u32(32) },
            { $0.u32(GGUFValueType.uint16.rawValue); $0.u16(32) },
            { $0.u32(GGUFValueType.string.rawValue); $0.string("32") },
            { $0.u32(GGUFValueType.array.rawValue); $0.u32(GGUFValueType.uint32.rawValue); $0.u64(1); $0.u32(32) },
        ]
        for encode in encodings {
            var fixture = GGUFFixture.valid
            fixture.add(key: "general.alignment", encode)
            try expectError(fixture, "alignmentWrongType")
        }
    }

    @Test func largeValidAlignmentIsHonoured() throws {
        var fixture = GGUFFixture.valid
        fixture.alignment = 4096
        fixture.add(key: "general.alignment", uint32: 4096)
        let file = try openGGUF(fixture.bytes)
        #expect(file.alignment == 4096)
        #expect(file.dataSectionOffset == 4096)
        #expect(try file.floats(for: "b") == [1.5, 1.5, 1.5])
    }

    // MARK: Duplicates, names, UTF-8

    @Test func duplicateKey() throws {
        var fixture = GGUFFixture.valid
        fixture.add(key: "general.architecture", string: "gpt2")
        try expectError(fixture, "duplicateKey")
        // The second key starts where the first entry (at 24, 8 + 20 + 4 + 13 bytes) ends.
        #expect(try ggufError(fixture.bytes)?.description.contains("byte 69") == true)
    }

    @Test func duplicateTensorName() throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[1].name = "a"
        try expectError(fixture, "duplicateTensorName")
    }

    @Test func tensorNameOf64BytesOrMore() throws {
        var fixture = GGUFFixture.valid
        fixture.tensors[0].name = String(repeating: "n", count: 63)
        #expect(try ggufError(fixture.bytes) == nil)
        fixture.tensors[0].name = String(repeating: "n", count: 64)
        try expectError(fixture, "tensorNameTooLong")
        // 22 three-byte characters: 22 characters but 66 bytes.
        fixture.tensors[0].name = String(repeating: "張", count: 22)
        try expectError(fixture, "tensorNameTooLong")
    }

    @Test func invalidUTF8() throws {
        let invalid: [[UInt8]] = [[0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0x61, 0xC0, 0xAF]]
        for bytes in invalid {
            var key = GGUFFixture.valid
            key.entries.append((bytes, [8, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0]))
            try expectError(key, "invalidUTF8")

            var value = GGUFFixture.valid
            value.add(key: "general.name") { $0.u32(GGUFValueType.string.rawValue); $0.stringBytes(bytes) }
            try expectError(value, "invalidUTF8")

            var arrayElement = GGUFFixture.valid
            arrayElement.add(key: "tokenizer.ggml.tokens") {
                $0.u32(GGUFValueType.array.rawValue); $0.u32(GGUFValueType.string.rawValue); $0.u64(2)
                $0.string("ok"); $0.stringBytes(bytes)
            }
            try expectError(arrayElement, "invalidUTF8")

            var name = GGUFFixture.valid
            name.tensors[0].nameBytes = bytes
            try expectError(name, "invalidUTF8")
        }
    }

    // MARK: Truncation

    @Test func truncationAnywhereIsAnError() throws {
        var fixture = GGUFFixture.valid
        fixture.add(key: "tokenizer.ggml.scores") {
            $0.u32(GGUFValueType.array.rawValue); $0.u32(GGUFValueType.float32.rawValue); $0.u64(2)
            $0.u32(Float(0.5).bitPattern); $0.u32(Float(-1).bitPattern)
        }
        fixture.add(key: "general.name") { $0.u32(GGUFValueType.string.rawValue); $0.string("tiny") }
        let bytes = fixture.bytes
        _ = try GGUFHeader(parsing: bytes.withUnsafeBytes { $0 }, path: "whole")
        // The last tensor ends 20 bytes before the end of the file (padding), so every cut
        // before that point must fail.
        let lastByteNeeded = bytes.count - 20
        for length in 0..<lastByteNeeded {
            let prefix = Array(bytes.prefix(length))
            let error: GGUFError? = prefix.withUnsafeBytes { buffer -> GGUFError? in
                do throws(GGUFError) {
                    _ = try GGUFHeader(parsing: buffer, path: "cut")
                    return nil
                } catch {
                    return error
                }
            }
            let expected = length < 4 ? ["badMagic"] : ["truncated", "lengthBeyondFile", "tensorDataPastEnd"]
            #expect(expected.contains(error?.caseName ?? "none"), "cut at \(length): \(String(describing: error))")
        }
        // A cut inside a field is reported at that field: tensor "a"'s info starts at 69 and its
        // type field at 69 + 9 (name) + 4 (n_dims) + 16 (dims) = 98.
        let cut = try ggufError(Array(GGUFFixture.valid.bytes.prefix(100)))
        #expect(cut?.caseName == "truncated")
        #expect(cut?.description.contains("byte 98") == true)
    }

    @Test func errorsSurfaceThroughTheCommonProtocol() throws {
        // Not a GGUF error at all: a missing file is the file layer's one-line error.
        #expect(throws: FileError.self) { try GGUFFile(path: fixtureFolder.appendingPathComponent("missing.gguf").path) }
    }
}
