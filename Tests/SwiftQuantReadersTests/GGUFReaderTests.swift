import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantGGUF

@Suite struct GGUFReaderTests {
    @Test(arguments: [UInt32(2), 3])
    func readsEveryMetadataValueType(version: UInt32) throws {
        var fixture = GGUFFixture.valid
        fixture.version = version
        fixture.add(key: "t.u8") { $0.u32(0); $0.u8(200) }
        fixture.add(key: "t.i8") { $0.u32(1); $0.u8(UInt8(bitPattern: -100)) }
        fixture.add(key: "t.u16") { $0.u32(2); $0.u16(60000) }
        fixture.add(key: "t.i16") { $0.u32(3); $0.append(Int16(-30000)) }
        fixture.add(key: "t.u32") { $0.u32(4); $0.u32(4_000_000_000) }
        fixture.add(key: "t.i32") { $0.u32(5); $0.append(Int32(-2_000_000_000)) }
        fixture.add(key: "t.f32") { $0.u32(6); $0.u32(Float(0.25).bitPattern) }
        fixture.add(key: "t.bool") { $0.u32(7); $0.u8(1) }
        fixture.add(key: "t.str") { $0.u32(8); $0.string("héllo ✓") }
        fixture.add(key: "t.u64") { $0.u32(10); $0.u64(UInt64.max) }
        fixture.add(key: "t.i64") { $0.u32(11); $0.i64(Int64.min) }
        fixture.add(key: "t.f64") { $0.u32(12); $0.u64(Double(1e300).bitPattern) }
        fixture.add(key: "t.arr.i32") { $0.u32(9); $0.u32(5); $0.u64(3); $0.append(Int32(-1)); $0.append(Int32(0)); $0.append(Int32(7)) }
        fixture.add(key: "t.arr.str") { $0.u32(9); $0.u32(8); $0.u64(2); $0.string("a"); $0.string("") }
        fixture.add(key: "t.arr.bool") { $0.u32(9); $0.u32(7); $0.u64(2); $0.u8(0); $0.u8(1) }
        fixture.add(key: "t.arr.empty") { $0.u32(9); $0.u32(6); $0.u64(0) }

        let file = try openGGUF(fixture.bytes)
        #expect(file.version == version)
        #expect(file.formatName == "gguf")
        let m = file.metadata
        #expect(m["general.architecture"] == .string("llama"))
        #expect(m["t.u8"] == .uint(200))
        #expect(m["t.i8"] == .int(-100))
        #expect(m["t.u16"] == .uint(60000))
        #expect(m["t.i16"] == .int(-30000))
        #expect(m["t.u32"] == .uint(4_000_000_000))
        #expect(m["t.i32"] == .int(-2_000_000_000))
        #expect(m["t.f32"] == .float(0.25))
        #expect(m["t.bool"] == .bool(true))
        #expect(m["t.str"] == .string("héllo ✓"))
        #expect(m["t.u64"] == .uint(UInt64.max))
        #expect(m["t.i64"] == .int(Int64.min))
        #expect(m["t.f64"] == .float(1e300))
        #expect(m["t.arr.i32"] == .array([.int(-1), .int(0), .int(7)]))
        #expect(m["t.arr.str"] == .array([.string("a"), .string("")]))
        #expect(m["t.arr.bool"] == .array([.bool(false), .bool(true)]))
        #expect(m["t.arr.empty"] == .array([]))

        // The typed entries keep file order and the stored types, for GGUF-to-GGUF copies.
        #expect(file.entries.map(\.key).first == "general.architecture")
        #expect(file.entries.first { $0.key == "t.u16" }?.type == .uint16)
        let array = try #require(file.entries.first { $0.key == "t.arr.str" })
        #expect(array.type == .array && array.elementType == .string)
    }

    @Test func shapesAreRowMajor() throws {
        // GGUF dims [4, 2]: rows of 4, 2 rows → shape [2, 4], and the data is already row-major.
        let file = try openGGUF(GGUFFixture.valid.bytes)
        let a = try #require(file.info(for: "a"))
        #expect(a.shape == [2, 4])
        #expect(a.dtype == .f32)
        #expect(a.byteCount == 32)
        #expect(try file.floats(for: "a") == (0..<8).map(Float.init))
        #expect(file.info(for: "b")?.shape == [3])
    }

    @Test func readsEveryPlainType() throws {
        var fixture = GGUFFixture()
        fixture.add(key: "general.architecture", string: "test")
        let halves: [Float16] = [1, -2, 0.5, 65504]
        let bf16: [UInt16] = [0x3F80, 0xC000, 0x3F00, 0x7F80]  // 1, -2, 0.5, +inf
        fixture.tensors = [
            FixtureTensor(name: "f32", dimensions: [2, 2], dtype: .f32, values: [Float(1), -2, 0.5, 3]),
            FixtureTensor(name: "f16", dimensions: [4], dtype: .f16, values: halves),
            FixtureTensor(name: "bf16", dimensions: [2, 2], dtype: .bf16, values: bf16),
            FixtureTensor(name: "f64", dimensions: [2], dtype: .f64, values: [Double(0.1), -1e10]),
            FixtureTensor(name: "i8", dimensions: [3], dtype: .i8, values: [Int8(-128), 0, 127]),
            FixtureTensor(name: "i16", dimensions: [2], dtype: .i16, values: [Int16(-300), 300]),
            FixtureTensor(name: "i32", dimensions: [1, 2], dtype: .i32, values: [Int32(-70000), 70000]),
            FixtureTensor(name: "i64", dimensions: [1], dtype: .i64, values: [Int64.min]),
            FixtureTensor(name: "scalar", dimensions: [], dtype: .f32, values: [Float(42)]),
        ]
        let file = try openGGUF(fixture.bytes)
        #expect(file.tensors.map(\.dtype) == [.f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64, .f32])
        #expect(try file.floats(for: "f32") == [1, -2, 0.5, 3])
        #expect(try file.floats(for: "f16") == [1, -2, 0.5, 65504])
        #expect(try file.floats(for: "bf16") == [1, -2, 0.5, .infinity])
        #expect(try file.floats(for: "f64") == [Float(0.1), -1e10])
        #expect(file.info(for: "i32")?.shape == [2, 1])
        #expect(file.info(for: "scalar")?.shape == [])
        #expect(try file.floats(for: "scalar") == [42])

        let i16 = try file.data(for: "i16")
        #expect(i16.bytes.loadUnaligned(fromByteOffset: 2, as: Int16.self) == 300)
        let i64 = try file.data(for: "i64")
        #expect(i64.bytes.loadUnaligned(as: Int64.self) == Int64.min)
        #expect(throws: TensorSourceError.self) { try file.floats(for: "i8") }
        #expect(throws: TensorSourceError.self) { try file.data(for: "missing") }
    }

    @Test func tensorDataIsAZeroCopyViewOfTheMap() throws {
        let file = try openGGUF(GGUFFixture.valid.bytes)
        let data = try file.data(for: "b")
        let map = file.file.bytes
        let start = try #require(data.bytes.baseAddress)
        #expect(start >= map.baseAddress! && start + data.bytes.count <= map.baseAddress! + map.count)
        #expect(start - map.baseAddress! == file.dataSectionOffset + 32)
        #expect((start - map.baseAddress!) % file.alignment == 0)
        let ownedByTheMap = data.owner === file.file
        #expect(ownedByTheMap)
    }

    @Test func q8_0IsDequantized() throws {
        // Two rows of 64: quantize with the kernel, store, and read back as q × d.
        let values = (0..<128).map { Float($0 % 17) * 0.01 - 0.08 }
        var blocks = [UInt8](repeating: 0, count: 4 * 34)
        try values.withUnsafeBufferPointer { input in
            try blocks.withUnsafeMutableBytes { try quantizeQ8_0(input, into: $0) }
        }
        var fixture = GGUFFixture()
        fixture.add(key: "general.architecture", string: "test")
        fixture.tensors = [FixtureTensor(name: "w", dimensions: [64, 2], type: 8, data: blocks)]
        let file = try openGGUF(fixture.bytes)
        let info = try #require(file.info(for: "w"))
        #expect(info.dtype == .q8_0 && info.shape == [2, 64] && info.byteCount == 136)
        let floats = try file.floats(for: "w")
        for i in 0..<128 {
            let block = i / 32
            let d = Float(Float16(bitPattern: UInt16(blocks[block * 34]) | UInt16(blocks[block * 34 + 1]) << 8))
            #expect(floats[i] == Float(Int8(bitPattern: blocks[block * 34 + 2 + i % 32])) * d)
            #expect(abs(floats[i] - values[i]) < 0.001)
        }
    }

    @Test func otherQuantizedTypesAreListedButNotDecoded() throws {
        var fixture = GGUFFixture()
        fixture.add(key: "general.architecture", string: "test")
        fixture.tensors = [
            FixtureTensor(name: "q4k", dimensions: [256, 2], type: 12, data: [UInt8](repeating: 0, count: 288)),
            FixtureTensor(name: "q4_0", dimensions: [32], type: 2, data: [UInt8](repeating: 0, count: 18)),
        ]
        let file = try openGGUF(fixture.bytes)
        #expect(file.tensors.map(\.dtype) == [.q4_K, .q4_0])
        #expect(file.info(for: "q4k")?.byteCount == 288)
        #expect(try file.data(for: "q4k").bytes.count == 288)
        do {
            _ = try file.floats(for: "q4k")
            Issue.record("Q4_K decoded")
        } catch let error as TensorSourceError {
            #expect(error == .notDecodable(path: file.path, name: "q4k", dtype: .q4_K))
            #expect(error.description.contains("Q4_K"))
        }
    }

    @Test func hasMagic() {
        #expect(Array("GGUF\u{3}".utf8).withUnsafeBytes { GGUFFile.hasMagic($0) })
        #expect(!Array("GGU".utf8).withUnsafeBytes { GGUFFile.hasMagic($0) })
        #expect(![UInt8](repeating: 0, count: 8).withUnsafeBytes { GGUFFile.hasMagic($0) })
    }
}
