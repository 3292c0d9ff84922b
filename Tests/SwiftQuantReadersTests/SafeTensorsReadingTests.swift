import Testing
import SwiftQuant

/// Valid files the reader must accept, and what it reads from them.
@Suite("SafeTensors reading")
struct SafeTensorsReadingTests {
    typealias Entry = SafeTensorsFixture.Entry

    @Test("An empty header {} is a valid file with no tensors")
    func emptyHeader() throws {
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: "{}"))
        #expect(file.tensors.isEmpty)
        #expect(file.metadata.isEmpty)
        #expect(file.formatName == "safetensors")
    }

    @Test("Whitespace around the header object is accepted", arguments: [
        "{}        ", "  \n\t{}", "\r\n{ }\n", "{\"__metadata__\" : { \"a\" : \"b\" } }   ",
    ])
    func whitespace(header: String) throws {
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: header))
        #expect(file.tensors.isEmpty)
    }

    @Test("An 8-byte-padded header with a tensor reads its values")
    func paddedHeader() throws {
        var header = SafeTensorsFixture.header([Entry("w", "F32", [2], 0, 8)])
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        let data = SafeTensorsFixture.littleEndian([Float(1.5).bitPattern, Float(-2).bitPattern])
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: header, data: data))
        #expect(file.headerLength % 8 == 0)
        #expect(try file.floats(for: "w") == [1.5, -2])
    }

    @Test("Metadata is read as strings; null metadata means none")
    func metadata() throws {
        let header = SafeTensorsFixture.header([], metadata: [("format", "pt"), ("note", "é ü \\\"q\\\"")])
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: header))
        #expect(file.metadata == ["format": .string("pt"), "note": .string("é ü \"q\"")])
        let none = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: "{\"__metadata__\":null}"))
        #expect(none.metadata.isEmpty)
    }

    @Test("Scalars and empty tensors are valid, in any header order")
    func scalarsAndEmptyTensors() throws {
        let header = SafeTensorsFixture.header([
            Entry("empty_end", "F16", [3, 0], 4, 4),
            Entry("scalar", "F32", [], 0, 4),
            Entry("empty_start", "F32", [0], 0, 0),
            Entry("zero_dims", "I64", [0, 1 << 40], 4, 4),
        ])
        let data = SafeTensorsFixture.littleEndian([Float(7).bitPattern])
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: header, data: data))
        // Sorted by offsets; ties keep header order.
        #expect(file.tensors.map(\.name) == ["empty_start", "scalar", "empty_end", "zero_dims"])
        #expect(file.info(for: "scalar")?.shape == [])
        #expect(file.info(for: "scalar")?.elementCount == 1)
        #expect(try file.floats(for: "scalar") == [7])
        #expect(try file.floats(for: "empty_end") == [])
        #expect(try file.data(for: "empty_start").bytes.count == 0)
        #expect(file.info(for: "zero_dims")?.byteCount == 0)
    }

    @Test("Tensors listed out of offset order are sorted by offset")
    func sortedByOffset() throws {
        let header = SafeTensorsFixture.header([
            Entry("c", "U8", [1], 3, 4), Entry("a", "U8", [1], 0, 1), Entry("b", "U16", [1], 1, 3),
        ])
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: header, data: [10, 20, 30, 40]))
        #expect(file.tensors.map(\.name) == ["a", "b", "c"])
        #expect(Array(try file.data(for: "b").bytes) == [20, 30])
        #expect(Array(try file.data(for: "c").bytes) == [40])
    }

    @Test("Every dtype the format defines is accepted with its bit width")
    func everyDType() throws {
        // Bit widths from the safetensors Dtype enum (bitsize()), typed in by hand.
        let bits: [(String, Int)] = [
            ("BOOL", 8), ("F4", 4), ("F6_E2M3", 6), ("F6_E3M2", 6), ("U8", 8), ("I8", 8),
            ("F8_E5M2", 8), ("F8_E4M3", 8), ("F8_E8M0", 8), ("F8_E4M3FNUZ", 8), ("F8_E5M2FNUZ", 8),
            ("I16", 16), ("U16", 16), ("F16", 16), ("BF16", 16), ("I32", 32), ("U32", 32),
            ("F32", 32), ("C64", 64), ("F64", 64), ("I64", 64), ("U64", 64),
        ]
        var entries: [Entry] = []
        var offset = 0
        for (dtype, width) in bits {
            let size = 8 * width / 8  // eight elements fill whole bytes for every width
            entries.append(Entry("t_\(dtype)", dtype, [2, 4], offset, offset + size))
            offset += size
        }
        let data = (0..<offset).map { UInt8(truncatingIfNeeded: $0) }
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: SafeTensorsFixture.header(entries), data: data))
        #expect(file.tensors.count == bits.count)
        for (dtype, width) in bits {
            let info = try #require(file.info(for: "t_\(dtype)"))
            #expect(info.dtype.rawValue == dtype)
            #expect(info.byteCount == width)
            #expect(try file.data(for: info.name).bytes.count == width)
        }
        // The whole safetensors set is covered: no table dtype outside it reads as safetensors.
        #expect(Set(bits.map(\.0)) == Set(DType.allCases.filter { !$0.isBlockQuantized }.map(\.rawValue)))
    }

    @Test("A dtype that cannot be decoded is listed and readable as bytes, but not as floats")
    func notDecodable() throws {
        let header = SafeTensorsFixture.header([Entry("ids", "I64", [2], 0, 16)])
        let data = SafeTensorsFixture.littleEndian([Int64(3), Int64(-1)])
        let path = try SafeTensorsFixture.write(header: header, data: data)
        let file = try SafeTensorsFile(path: path)
        #expect(Array(try file.data(for: "ids").bytes) == data)
        #expect(throws: TensorSourceError.notDecodable(path: path, name: "ids", dtype: .i64)) {
            try file.floats(for: "ids")
        }
    }

    @Test("An unknown tensor name is a TensorSourceError")
    func unknownName() throws {
        let path = try SafeTensorsFixture.writeF32([("w", [1])])
        let file = try SafeTensorsFile(path: path)
        #expect(throws: TensorSourceError.noSuchTensor(path: path, name: "v")) { try file.data(for: "v") }
        #expect(throws: TensorSourceError.noSuchTensor(path: path, name: "v")) { try file.floats(for: "v") }
        file.releasePages(for: "v")  // a no-op, not a crash
    }

    @Test("Unaligned tensor data is read zero-copy and decoded exactly")
    func unaligned() throws {
        // An even header length puts the data buffer on an even address (the map is page
        // aligned); a 1-byte U8 tensor then pushes the F32, F64 and F16 data to odd addresses.
        var header = SafeTensorsFixture.header([
            Entry("pad", "U8", [1], 0, 1), Entry("f32", "F32", [3], 1, 13),
            Entry("f64", "F64", [2], 13, 29), Entry("f16", "F16", [3], 29, 35),
        ])
        if header.utf8.count % 2 == 1 { header += " " }
        let data: [UInt8] = [0xAA]
            + SafeTensorsFixture.littleEndian([Float(1).bitPattern, Float(-0.5).bitPattern, Float(3e-40).bitPattern])
            + SafeTensorsFixture.littleEndian([Double(0.25).bitPattern, Double(-1024).bitPattern])
            + SafeTensorsFixture.littleEndian([UInt16(0x3C00), 0xC000, 0x0001])
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: header, data: data))
        let bytes = try file.data(for: "f32")
        let range = try #require(file.fileRange(for: "f32"))
        #expect(bytes.bytes.baseAddress == file.file.bytes.baseAddress! + range.lowerBound)
        #expect(Int(bitPattern: bytes.bytes.baseAddress) % 4 != 0)
        #expect(ObjectIdentifier(bytes.owner) == ObjectIdentifier(file.file))
        #expect(try file.floats(for: "f32") == [1, -0.5, Float(bitPattern: Float(3e-40).bitPattern)])
        #expect(try file.floats(for: "f64") == [0.25, -1024])
        #expect(try file.floats(for: "f16") == [1, -2, 0x1p-24])
    }

    @Test("releasePages leaves the data readable")
    func releasePages() throws {
        let values = (0..<20_000).map { Float($0) }
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.writeF32([("w", values)]))
        #expect(try file.floats(for: "w") == values)
        file.releasePages(for: "w")
        #expect(try file.floats(for: "w") == values)
    }

    @Test("A file that cannot be opened is a FileError")
    func missingFile() throws {
        let path = try SafeTensorsFixture.makeFolder() + "/absent.safetensors"
        #expect(throws: FileError.self) { try SafeTensorsFile(path: path) }
    }

    // MARK: Decoding

    /// Writes one tensor of raw little-endian values and decodes it.
    private func decode<T: FixedWidthInteger>(_ dtype: String, _ raw: [T]) throws -> [Float] {
        let data = SafeTensorsFixture.littleEndian(raw)
        let header = SafeTensorsFixture.header([Entry("w", dtype, [raw.count], 0, data.count)])
        let file = try SafeTensorsFile(path: try SafeTensorsFixture.write(header: header, data: data))
        return try file.floats(for: "w")
    }

    /// Bitwise equality, so -0 differs from +0; every NaN matches every NaN.
    private func same(_ actual: [Float], _ expected: [Float]) -> Bool {
        actual.count == expected.count && zip(actual, expected).allSatisfy {
            $0.isNaN ? $1.isNaN : $0.bitPattern == $1.bitPattern
        }
    }

    @Test("F16 decodes exactly: normals, subnormals, ±0, ±inf, NaN")
    func decodeF16() throws {
        let raw: [UInt16] = [0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0400, 0x03FF, 0x0001, 0x8001,
                             0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0xFE01]
        let expected: [Float] = [1, -2, 0x1.554p-2, 65504, 0x1p-14, 0x1.ff8p-15, 0x1p-24, -0x1p-24,
                                 0, -0.0, .infinity, -.infinity, .nan, .nan]
        #expect(same(try decode("F16", raw), expected))
    }

    @Test("BF16 decodes exactly: normals, subnormals, ±0, ±inf, NaN")
    func decodeBF16() throws {
        let raw: [UInt16] = [0x3F80, 0xC049, 0x7F7F, 0x0080, 0x0001, 0x807F, 0x0000, 0x8000,
                             0x7F80, 0xFF80, 0x7FC0, 0xFFC1]
        let expected: [Float] = [1, -3.140625, 0x1.fep127, 0x1p-126, 0x1p-133, -0x1.fcp-127, 0, -0.0,
                                 .infinity, -.infinity, .nan, .nan]
        #expect(same(try decode("BF16", raw), expected))
    }

    @Test("F32 decodes bit for bit, including subnormals and NaN payloads")
    func decodeF32() throws {
        let raw: [UInt32] = [0x3F80_0000, 0x0000_0001, 0x807F_FFFF, 0x7F7F_FFFF, 0x8000_0000,
                             0x7F80_0000, 0xFF80_0000, 0x7FC0_1234]
        let decoded = try decode("F32", raw)
        #expect(decoded.map(\.bitPattern) == raw)
    }

    @Test("F64 rounds to nearest even, overflows to inf and underflows to signed zero")
    func decodeF64() throws {
        let values: [Double] = [
            1 + 0x1p-24,               // halfway between 1 and 1 + 2^-23: even is 1
            1 + 3 * 0x1p-24,           // halfway between 1 + 2^-23 and 1 + 2^-22: even is the latter
            1 + 0x1p-24 + 0x1p-50,     // just above halfway: rounds up
            0x1p-149,                  // the smallest Float subnormal, exact
            0x1p-150,                  // halfway between 0 and 2^-149: even is 0
            3 * 0x1p-151,              // 0.75 × 2^-149: rounds to 2^-149
            -0x1p-200, 1e300, -1e300, 0x1.fffffefffffffp127, -0.0, .infinity, .nan,
        ]
        let expected: [Float] = [
            1, 1 + 0x1p-22, 1 + 0x1p-23, 0x1p-149, 0, 0x1p-149,
            -0.0, .infinity, -.infinity, 0x1.fffffep127, -0.0, .infinity, .nan,
        ]
        #expect(same(try decode("F64", values.map(\.bitPattern)), expected))
    }

    // MARK: The real model

    @Test("all-MiniLM-L6-v2 opens and reads as Python's safetensors reports it")
    func miniLM() throws {
        let file = try SafeTensorsFile(path: SafeTensorsFixture.miniLMPath)
        // Counts, dtypes and values as reported by Python's safetensors (safe_open) for this file.
        #expect(file.tensors.count == 104)
        #expect(file.metadata == ["format": .string("pt")])
        #expect(file.tensors.filter { $0.dtype == .f32 }.count == 103)
        #expect(file.info(for: "embeddings.position_ids")?.dtype == .i64)
        #expect(file.info(for: "embeddings.position_ids")?.shape == [1, 512])
        #expect(file.tensors.reduce(0) { $0 + $1.elementCount } == 22_713_728)
        #expect(file.tensors.reduce(0) { $0 + $1.byteCount } == file.file.bytes.count - 8 - file.headerLength)

        let embeddings = try #require(file.info(for: "embeddings.word_embeddings.weight"))
        #expect(embeddings.shape == [30522, 384])
        let values = try file.floats(for: embeddings.name)
        #expect(values.count == 30522 * 384)
        #expect(Array(values[0..<4]) == [-0.019989013671875, -0.0034027099609375, -0.014678955078125, 0.0117034912109375])
        #expect(values.allSatisfy { $0.isFinite })
        let bias = try file.floats(for: "encoder.layer.5.output.LayerNorm.bias")
        #expect(Array(bias[0..<3]) == [-0.03630739822983742, 0.06616555154323578, 0.014946041628718376])
        #expect(throws: TensorSourceError.self) { try file.floats(for: "embeddings.position_ids") }
    }
}
