import Foundation
import SwiftQuant

/// Little-endian bytes, built field by field: how the tests spell GGUF files, good and bad.
struct GGUFBytes {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { append(value) }
    mutating func u32(_ value: UInt32) { append(value) }
    mutating func u64(_ value: UInt64) { append(value) }
    mutating func i64(_ value: Int64) { append(value) }
    mutating func raw(_ values: [UInt8]) { bytes += values }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    /// A GGUF string: u64 length, then the bytes.
    mutating func string(_ value: String) { stringBytes(Array(value.utf8)) }
    mutating func stringBytes(_ value: [UInt8]) {
        u64(UInt64(value.count))
        bytes += value
    }
}

/// One tensor of a fixture file; `dimensions` are in GGUF order (fastest first).
struct FixtureTensor {
    var name: String
    var dimensions: [UInt64]
    var type: UInt32
    var data: [UInt8]
    /// When set, written instead of the computed offset.
    var offset: UInt64?
    /// Raw name bytes, for names that are not valid UTF-8.
    var nameBytes: [UInt8]?

    init(name: String, dimensions: [UInt64], type: UInt32, data: [UInt8], offset: UInt64? = nil) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.data = data
        self.offset = offset
    }

    init<T>(name: String, dimensions: [UInt64], dtype: DType, values: [T]) {
        self.init(
            name: name, dimensions: dimensions, type: dtype.layout.ggmlType!,
            data: values.withUnsafeBytes { Array($0) })
    }
}

/// A GGUF file assembled from parts, each of which a test may break.
struct GGUFFixture {
    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var entryCount: UInt64?
    /// Each entry is the key followed by its encoded type and value.
    var entries: [(key: [UInt8], typeAndValue: [UInt8])] = []
    var tensors: [FixtureTensor] = []
    /// The alignment used to lay out the data (the file says what `general.alignment` says).
    var alignment = 32

    mutating func add(key: String, _ encode: (inout GGUFBytes) -> Void) {
        var value = GGUFBytes()
        encode(&value)
        entries.append((Array(key.utf8), value.bytes))
    }

    mutating func add(key: String, string: String) {
        add(key: key) { $0.u32(GGUFValueType.string.rawValue); $0.string(string) }
    }

    mutating func add(key: String, uint32: UInt32) {
        add(key: key) { $0.u32(GGUFValueType.uint32.rawValue); $0.u32(uint32) }
    }

    /// A small valid file with one entry and two F32 tensors.
    static var valid: GGUFFixture {
        var fixture = GGUFFixture()
        fixture.add(key: "general.architecture", string: "llama")
        fixture.tensors = [
            FixtureTensor(name: "a", dimensions: [4, 2], dtype: .f32, values: (0..<8).map(Float.init)),
            FixtureTensor(name: "b", dimensions: [3], dtype: .f32, values: [Float](repeating: 1.5, count: 3)),
        ]
        return fixture
    }

    var bytes: [UInt8] {
        var out = GGUFBytes()
        out.raw(magic)
        out.u32(version)
        out.u64(tensorCount ?? UInt64(tensors.count))
        out.u64(entryCount ?? UInt64(entries.count))
        for entry in entries {
            out.stringBytes(entry.key)
            out.raw(entry.typeAndValue)
        }
        var offset: UInt64 = 0
        for tensor in tensors {
            if let nameBytes = tensor.nameBytes { out.stringBytes(nameBytes) } else { out.string(tensor.name) }
            out.u32(UInt32(tensor.dimensions.count))
            for dimension in tensor.dimensions { out.u64(dimension) }
            out.u32(tensor.type)
            out.u64(tensor.offset ?? offset)
            offset += UInt64(padded(tensor.data.count))
        }
        out.raw([UInt8](repeating: 0, count: padded(out.bytes.count) - out.bytes.count))
        for tensor in tensors {
            out.raw(tensor.data)
            out.raw([UInt8](repeating: 0, count: padded(tensor.data.count) - tensor.data.count))
        }
        return out.bytes
    }

    private func padded(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }
}

/// One folder per test run for the fixture files (removed when the test process exits).
let fixtureFolder = URL(fileURLWithPath: temporaryFolder())

/// Writes `bytes` to a fresh temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8]) throws -> String {
    let url = fixtureFolder.appendingPathComponent("\(UUID().uuidString).gguf")
    try Data(bytes).write(to: url)
    return url.path
}

/// Opens `bytes` as a GGUF file.
func openGGUF(_ bytes: [UInt8]) throws -> GGUFFile {
    try GGUFFile(path: temporaryFile(bytes))
}

/// The GGUFError that opening `bytes` throws, or `nil` when it opens.
func ggufError(_ bytes: [UInt8]) throws -> GGUFError? {
    let path = try temporaryFile(bytes)
    do {
        _ = try GGUFFile(path: path)
        return nil
    } catch let error as GGUFError {
        return error
    }
}

extension GGUFError {
    /// The case's name, so a test can assert which check fired without spelling every payload.
    var caseName: String {
        Mirror(reflecting: self).children.first?.label ?? "\(self)"
    }
}
