import Foundation
import SwiftQuant

/// Builds safetensors files byte by byte, so each test states exactly what is on disk.
enum SafeTensorsFixture {
    /// One header entry.
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var offsets: (Int, Int)

        init(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            offsets = (begin, end)
        }

        var json: String {
            "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offsets.0),\(offsets.1)]}"
        }
    }

    /// A header object built from entries and optional string metadata.
    static func header(_ entries: [Entry], metadata: [(String, String)] = []) -> String {
        var members: [String] = []
        if !metadata.isEmpty {
            members.append("\"__metadata__\":{" + metadata.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}")
        }
        members += entries.map(\.json)
        return "{" + members.joined(separator: ",") + "}"
    }

    /// `u64 N` + header + data; `declaredLength` overrides N to build broken files.
    static func bytes(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        bytes(headerBytes: Array(header.utf8), data: data, declaredLength: declaredLength)
    }

    static func bytes(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        let length = declaredLength ?? UInt64(headerBytes.count)
        return withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes + data
    }

    /// A new empty folder (SwiftQuantTestSupport's, removed when the test process exits).
    static func makeFolder() throws -> String {
        temporaryFolder()
    }

    /// Writes `bytes` to `name` in a new folder (or in `folder`) and returns the file's path.
    @discardableResult
    static func write(_ bytes: [UInt8], name: String = "model.safetensors", in folder: String? = nil) throws -> String {
        let path = try (folder ?? makeFolder()) + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Writes a file from header text and data.
    static func write(header: String, data: [UInt8] = [], name: String = "model.safetensors", in folder: String? = nil) throws -> String {
        try write(bytes(header: header, data: data), name: name, in: folder)
    }

    /// Writes a valid file of F32 tensors whose values are `values[name]`, stored back to back.
    @discardableResult
    static func writeF32(_ tensors: [(String, [Float])], metadata: [(String, String)] = [],
                         name: String = "model.safetensors", in folder: String? = nil) throws -> String {
        var entries: [Entry] = []
        var data: [UInt8] = []
        for (tensorName, values) in tensors {
            let begin = data.count
            for value in values { data += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
            entries.append(Entry(tensorName, "F32", [values.count], begin, data.count))
        }
        return try write(header: header(entries, metadata: metadata), data: data, name: name, in: folder)
    }

    /// Little-endian bytes of each value.
    static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
    }

    /// The real all-MiniLM-L6-v2 weights (resolved by `TestModels`).
    static var miniLMPath: String {
        get throws { try TestModels.miniLMSafeTensors }
    }
}
