import Foundation
import SwiftQuant

/// One malformed input: the files to lay out in a fresh folder, the path to hand the command,
/// and which commands must reject it.
struct MalformedInput: Sendable, CustomStringConvertible {
    enum Kind: String, Sendable { case safetensors, gguf, checkpoint, config }

    /// What a command must do with the input.
    enum Expectation: Sendable {
        /// Every command fails (the header is bad).
        case rejectedEverywhere
        /// Commands that read tensor data fail; `inspect` (headers only) may succeed.
        case rejectedOnRead
    }

    var kind: Kind
    /// What is wrong with it, for failure messages.
    var name: String
    /// Relative path → bytes (a path ending in "/" is an empty folder).
    var files: [(path: String, bytes: [UInt8])]
    /// The relative path given to the commands.
    var input: String
    var expectation: Expectation = .rejectedEverywhere
    /// The input is a FIFO (named pipe) that nobody writes: opening it must not block.
    var isFIFO = false

    init(_ kind: Kind, _ name: String, _ bytes: [UInt8], expectation: Expectation = .rejectedEverywhere) {
        self.kind = kind
        self.name = name
        let file = switch kind {
        case .safetensors: "model.safetensors"
        case .gguf: "model.gguf"
        case .checkpoint: "model.swq"
        case .config: "rules.yaml"
        }
        files = [(file, bytes)]
        input = file
        self.expectation = expectation
    }

    init(_ kind: Kind, _ name: String, files: [(path: String, bytes: [UInt8])], input: String) {
        self.kind = kind
        self.name = name
        self.files = files
        self.input = input
    }

    var description: String { "\(kind.rawValue): \(name)" }

    /// Lays the files out under `folder` and returns the input's path.
    func write(into folder: String) throws -> String {
        for (path, bytes) in files {
            let full = folder + "/" + path
            if path.hasSuffix("/") {
                try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
                continue
            }
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: full))
        }
        let path = folder + "/" + input
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if isFIFO { guard mkfifo(path, 0o644) == 0 else { throw CocoaError(.fileWriteUnknown) } }
        return path
    }
}

// MARK: - Little-endian byte building

/// Bytes appended field by field, little-endian, as every format here stores them.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func f32(_ value: Float) { u32(value.bitPattern) }
    mutating func raw(_ data: [UInt8]) { bytes += data }
    mutating func pad(toMultipleOf alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }
}

extension Array where Element == UInt8 {
    mutating func setU16(_ value: UInt16, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<offset + 2, with: $0) }
    }
    mutating func setU32(_ value: UInt32, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<offset + 4, with: $0) }
    }
    mutating func setU64(_ value: UInt64, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<offset + 8, with: $0) }
    }
    func u64(at offset: Int) -> UInt64 {
        self[offset..<offset + 8].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }
}

/// A fixed-seed generator, so the corpus is the same on every run.
struct CorpusRandom {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
}

// MARK: - The corpus

enum MalformedInputCorpus {
    static let huge: UInt64 = 1 << 62
    static let max64 = UInt64.max

    // MARK: safetensors

    /// A safetensors file: the u64 header length (the true one unless given), the header, data.
    static func safetensors(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        safetensors(headerBytes: Array(header.utf8), data: data, declaredLength: declaredLength)
    }

    static func safetensors(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(declaredLength ?? UInt64(headerBytes.count))
        writer.raw(headerBytes)
        writer.raw(data)
        return writer.bytes
    }

    /// One F32 [2, 2] tensor `a` and one F16 [4] tensor `b`: 24 bytes of data.
    static func twoTensors(a: String = #"{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#,
                           b: String = #"{"dtype":"F16","shape":[4],"data_offsets":[16,24]}"#,
                           extra: String = "", data: Int = 24) -> [UInt8] {
        safetensors("{\"a\":\(a),\"b\":\(b)\(extra)}", data: [UInt8](repeating: 0x3C, count: data))
    }

    static func safeTensorsCases() -> [MalformedInput] {
        func c(_ name: String, _ bytes: [UInt8]) -> MalformedInput { MalformedInput(.safetensors, name, bytes) }
        let valid = #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        return [
            c("empty file", []),
            c("7 bytes, shorter than the header length", [1, 0, 0, 0, 0, 0, 0]),
            c("header length 0", safetensors("")),
            c("header length over the 100 MB limit", safetensors(valid, declaredLength: 200_000_000)),
            c("header length 2^64-1", safetensors(valid, declaredLength: max64)),
            c("header length 2^63 (overflows 8 + N)", safetensors(valid, declaredLength: 1 << 63)),
            c("header runs past the end of the file", safetensors(valid, declaredLength: 4096)),
            c("header is not JSON", safetensors("hello, world    ")),
            c("header is a JSON array", safetensors("[]")),
            c("header is a JSON string", safetensors("\"tensors\"")),
            c("garbage after the JSON object", safetensors(valid + " x", data: [UInt8](repeating: 0, count: 16))),
            c("unterminated JSON", safetensors(#"{"a":{"dtype":"F32""#)),
            // Found by fuzzing: the reader echoed the raw newline of an invalid escape.
            c("invalid escape of a line break in a name (fuzz regression)",
              safetensors("{\"a\\\n\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])),
            c("raw control character in a name", safetensors("{\"a\u{01}\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])),
            c("invalid UTF-8 in the header", safetensors(headerBytes: Array("{\"a".utf8) + [0xC3, 0x28] + Array("\":{}}".utf8))),
            c("lone surrogate escape", safetensors(#"{"\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])),
            c("NUL bytes instead of a header", safetensors(headerBytes: [UInt8](repeating: 0, count: 64))),
            c("JSON nested 100,000 deep", safetensors(#"{"a":"# + deep + "}")),
            c("unknown dtype", twoTensors(a: #"{"dtype":"F17","shape":[2,2],"data_offsets":[0,16]}"#)),
            c("dtype is a number", twoTensors(a: #"{"dtype":32,"shape":[2,2],"data_offsets":[0,16]}"#)),
            c("missing dtype", twoTensors(a: #"{"shape":[2,2],"data_offsets":[0,16]}"#)),
            c("missing data_offsets", twoTensors(a: #"{"dtype":"F32","shape":[2,2]}"#)),
            c("tensor entry is not an object", twoTensors(a: "5")),
            c("negative dimension", twoTensors(a: #"{"dtype":"F32","shape":[-1,2],"data_offsets":[0,16]}"#)),
            c("fractional dimension", twoTensors(a: #"{"dtype":"F32","shape":[1.5,2],"data_offsets":[0,16]}"#)),
            c("dimension 1e400", twoTensors(a: #"{"dtype":"F32","shape":[1e400],"data_offsets":[0,16]}"#)),
            c("dimension 2^64", twoTensors(a: #"{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,16]}"#)),
            c("element count overflows", twoTensors(a: #"{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,16]}"#)),
            c("byte count overflows (2^62 F32)", twoTensors(a: #"{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]}"#)),
            c("zero dimension hides overflowing ones", twoTensors(a: #"{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}"#, b: #"{"dtype":"F16","shape":[12],"data_offsets":[0,24]}"#)),
            c("element count overflows before a zero dimension", twoTensors(a: #"{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,0],"data_offsets":[0,0]}"#, b: #"{"dtype":"F16","shape":[12],"data_offsets":[0,24]}"#)),
            c("data_offsets with one value", twoTensors(a: #"{"dtype":"F32","shape":[2,2],"data_offsets":[0]}"#)),
            c("data_offsets reversed", twoTensors(a: #"{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]}"#)),
            c("data_offsets near 2^64", twoTensors(a: #"{"dtype":"F32","shape":[2,2],"data_offsets":[18446744073709551600,18446744073709551615]}"#)),
            c("gap before the first tensor", twoTensors(a: #"{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}"#, b: #"{"dtype":"F16","shape":[4],"data_offsets":[24,32]}"#, data: 32)),
            c("overlapping tensors", twoTensors(b: #"{"dtype":"F16","shape":[4],"data_offsets":[8,16]}"#, data: 16)),
            c("size does not match the shape", twoTensors(a: #"{"dtype":"F32","shape":[3],"data_offsets":[0,16]}"#)),
            c("sub-byte dtype with an odd bit count", twoTensors(a: #"{"dtype":"F4","shape":[3],"data_offsets":[0,16]}"#)),
            c("trailing bytes after the data", twoTensors(data: 25)),
            c("data truncated", twoTensors(data: 20)),
            c("duplicate tensor name", safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
            c("__metadata__ value is a number", twoTensors(extra: #","__metadata__":{"format":1}"#)),
            c("__metadata__ is a list", twoTensors(extra: #","__metadata__":["pt"]"#)),
            MalformedInput(.safetensors, "index names a missing shard", files: [
                ("model/model.safetensors.index.json", Array(#"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors"}}"#.utf8)),
            ], input: "model"),
            MalformedInput(.safetensors, "index is not JSON", files: [
                ("model/model.safetensors.index.json", Array("weight_map: {}".utf8)),
                ("model/model-00001-of-00001.safetensors", safetensors(valid, data: [UInt8](repeating: 0, count: 16))),
            ], input: "model"),
            MalformedInput(.safetensors, "index weight_map value is a number", files: [
                ("model/model.safetensors.index.json", Array(#"{"weight_map":{"a":1}}"#.utf8)),
            ], input: "model"),
            MalformedInput(.safetensors, "a folder without safetensors files", files: [("model/", [])], input: "model"),
            MalformedInput(.safetensors, "a shard is damaged", files: [
                ("model/model.safetensors.index.json", Array(#"{"weight_map":{"a":"model-00001-of-00001.safetensors"}}"#.utf8)),
                ("model/model-00001-of-00001.safetensors", safetensors(valid, data: [UInt8](repeating: 0, count: 15))),
            ], input: "model"),
            {
                var fifo = MalformedInput(.safetensors, "a FIFO instead of a file", files: [], input: "fifo.safetensors")
                fifo.isFIFO = true
                return fifo
            }(),
        ]
    }

    // MARK: GGUF

    /// A GGUF file built field by field.
    struct GGUFBuilder {
        var version: UInt32 = 3
        var keyValues: [(key: [UInt8], type: UInt32, value: [UInt8])] = [("general.architecture", 8, string("llama"))].map { (Array($0.0.utf8), $0.1, $0.2) }
        var tensors: [(name: [UInt8], dims: [UInt64], type: UInt32, offset: UInt64)] = [
            (Array("blk.0.attn_q.weight".utf8), [32, 2], 0, 0),
            (Array("blk.0.attn_norm.weight".utf8), [32], 0, 256),
        ]
        var alignment = 32
        var dataBytes = 384
        var tensorCount: UInt64?
        var keyValueCount: UInt64?

        static func string(_ text: String) -> [UInt8] {
            var writer = ByteWriter()
            writer.u64(UInt64(text.utf8.count))
            writer.raw(Array(text.utf8))
            return writer.bytes
        }

        var bytes: [UInt8] {
            var writer = ByteWriter()
            writer.raw(Array("GGUF".utf8))
            writer.u32(version)
            writer.u64(tensorCount ?? UInt64(tensors.count))
            writer.u64(keyValueCount ?? UInt64(keyValues.count))
            for (key, type, value) in keyValues {
                writer.u64(UInt64(key.count))
                writer.raw(key)
                writer.u32(type)
                writer.raw(value)
            }
            for tensor in tensors {
                writer.u64(UInt64(tensor.name.count))
                writer.raw(tensor.name)
                writer.u32(UInt32(tensor.dims.count))
                for dim in tensor.dims { writer.u64(dim) }
                writer.u32(tensor.type)
                writer.u64(tensor.offset)
            }
            writer.pad(toMultipleOf: alignment)
            for index in 0..<dataBytes { writer.u8(UInt8(truncatingIfNeeded: index * 7)) }
            return writer.bytes
        }

        func with(_ edit: (inout GGUFBuilder) -> Void) -> [UInt8] {
            var copy = self
            edit(&copy)
            return copy.bytes
        }
    }

    static func ggufCases() -> [MalformedInput] {
        func c(_ name: String, _ bytes: [UInt8]) -> MalformedInput { MalformedInput(.gguf, name, bytes) }
        let base = GGUFBuilder()
        func kv(_ key: String, _ type: UInt32, _ value: [UInt8]) -> (key: [UInt8], type: UInt32, value: [UInt8]) {
            (Array(key.utf8), type, value)
        }
        func u32(_ value: UInt32) -> [UInt8] { var w = ByteWriter(); w.u32(value); return w.bytes }
        func u64(_ value: UInt64) -> [UInt8] { var w = ByteWriter(); w.u64(value); return w.bytes }
        let good = base.bytes
        return [
            c("magic GGUX", Array("GGUX".utf8) + good.dropFirst(4)),
            c("only the magic", Array("GGUF".utf8)),
            c("truncated inside the counts", Array(good.prefix(13))),
            c("version 1 (obsolete)", base.with { $0.version = 1 }),
            c("version 4 (unknown)", base.with { $0.version = 4 }),
            c("version 0xFFFFFFFF", base.with { $0.version = .max }),
            c("big-endian version", base.with { $0.version = 0x0300_0000 }),
            c("tensor count 2^63", base.with { $0.tensorCount = 1 << 63 }),
            c("tensor count 2^64-1", base.with { $0.tensorCount = max64 }),
            c("key/value count 2^62", base.with { $0.keyValueCount = huge }),
            c("key/value count past the entries", base.with { $0.keyValueCount = 3 }),
            c("tensor count past the infos", base.with { $0.tensorCount = 3 }),
            c("key length 2^63", {
                var bytes = good
                bytes.setU64(1 << 63, at: 24)
                return bytes
            }()),
            c("string value length 2^64-1", base.with { $0.keyValues = [kv("general.architecture", 8, u64(max64) + Array("llama".utf8))] }),
            c("string value length past the end", base.with { $0.keyValues = [kv("general.architecture", 8, u64(1 << 40) + Array("llama".utf8))] }),
            c("unknown value type 13", base.with { $0.keyValues.append(kv("x.y", 13, u32(0))) }),
            c("value type 2^32-1", base.with { $0.keyValues.append(kv("x.y", .max, u32(0))) }),
            // Found by fuzzing: the key's line break went straight into the message.
            c("key with a line break and an unknown type (fuzz regression)", base.with { $0.keyValues.append(kv("G\nUF\u{3}", 1_768_710_446, u32(0))) }),
            c("key with a carriage return and a value length past the end (fuzz regression)", base.with { $0.keyValues.append(kv("general\u{1}\0\riosee", 8, u64(327_685) + Array("x".utf8))) }),
            c("key with invalid UTF-8", base.with { $0.keyValues.append(([0x78, 0xFF, 0xFE], 4, u32(1))) }),
            c("array of arrays", base.with { $0.keyValues.append(kv("x.nested", 9, u32(9) + u64(1) + u32(4) + u64(1) + u32(7))) }),
            c("array count 2^62 of u8", base.with { $0.keyValues.append(kv("x.bytes", 9, u32(0) + u64(huge) + [1, 2, 3])) }),
            c("array count 2^64-1 of strings", base.with { $0.keyValues.append(kv("x.strings", 9, u32(8) + u64(max64) + GGUFBuilder.string("a"))) }),
            c("array of strings, one of length 2^63", base.with { $0.keyValues.append(kv("x.strings", 9, u32(8) + u64(2) + GGUFBuilder.string("a") + u64(1 << 63))) }),
            c("array of an unknown element type", base.with { $0.keyValues.append(kv("x.odd", 9, u32(77) + u64(1) + u32(0))) }),
            c("bool value 2", base.with { $0.keyValues.append(kv("x.flag", 7, [2])) }),
            c("duplicate key", base.with { $0.keyValues.append(kv("general.architecture", 8, GGUFBuilder.string("bert"))) }),
            c("alignment 0", base.with { $0.keyValues.append(kv("general.alignment", 4, u32(0))) }),
            c("alignment 3 (not a power of two)", base.with { $0.keyValues.append(kv("general.alignment", 4, u32(3))) }),
            c("alignment 2^30", base.with { $0.keyValues.append(kv("general.alignment", 4, u32(1 << 30))) }),
            c("alignment stored as a string", base.with { $0.keyValues.append(kv("general.alignment", 8, GGUFBuilder.string("32"))) }),
            c("alignment stored as u64", base.with { $0.keyValues.append(kv("general.alignment", 10, u64(32))) }),
            c("5 dimensions", base.with { $0.tensors[0].dims = [2, 2, 2, 2, 4] }),
            c("2^32-1 dimensions", base.with { $0.tensors = [(Array("w".utf8), [], 0, 0)] }.replacingNDims(name: "w", with: .max)),
            c("element count overflows", base.with { $0.tensors[0].dims = [1 << 32, 1 << 32, 1 << 32] }),
            c("byte count overflows (2^62 F32)", base.with { $0.tensors[0].dims = [huge] }),
            c("zero dimension hides an overflowing one", base.with { $0.tensors[0].dims = [0, huge, huge] }),
            c("ggml type 255", base.with { $0.tensors[0].type = 255 }),
            c("ggml type 2^31", base.with { $0.tensors[0].type = 1 << 31 }),
            c("Q8_0 rows of 33 values", base.with { $0.tensors[0].type = 8; $0.tensors[0].dims = [33, 2] }),
            c("tensor offset not aligned", base.with { $0.tensors[1].offset = 257 }),
            c("tensor data past the end of the file", base.with { $0.tensors[1].offset = 1 << 40 }),
            c("tensor offset near 2^64", base.with { $0.tensors[1].offset = max64 - 31 }),
            c("tensor data truncated", base.with { $0.dataBytes = 300 }),
            c("overlapping tensors", base.with { $0.tensors[1].offset = 128 }),
            c("tensors out of order", base.with { $0.tensors[0].offset = 256; $0.tensors[1].offset = 0 }),
            c("duplicate tensor name", base.with { $0.tensors[1].name = $0.tensors[0].name; $0.tensors[1].dims = [32, 2] ; $0.dataBytes = 512 }),
            c("tensor name of 64 bytes (ggml allows 63)", base.with { $0.tensors[0].name = [UInt8](repeating: 0x61, count: 64) }),
            c("tensor name length 2^63", {
                var bytes = base.bytes
                // The first tensor info starts right after the one key/value pair.
                let infoStart = 24 + 8 + "general.architecture".utf8.count + 4 + 8 + 5
                bytes.setU64(1 << 63, at: infoStart)
                return bytes
            }()),
            c("tensor name with a line break", base.with { $0.tensors[1].name = Array("blk.0\nattn".utf8); $0.tensors[1].offset = 1 }),
        ]
    }

    // MARK: our checkpoint

    /// A checkpoint assembled field by field from the spec (independently of the writer), so
    /// that any field can hold any value; the checksums are computed unless told otherwise.
    struct CheckpointBuilder {
        struct Segment {
            var codec: UInt8 = 0
            var planeWidth: UInt8 = 1
            var offset: UInt64
            var rawLength: UInt64
            var storedLength: UInt64
            var chunkSize: UInt64 = 1 << 20
            var chunkCount: UInt64?
            var chunks: [(length: UInt64, checksum: UInt64)]
        }

        struct Entry {
            var name = "w"
            var dtype = "I8"
            var sourceDType = "F32"
            var shape: [UInt64] = [4, 16]
            var quantization: UInt8 = 2
            var groupSize: UInt64 = 0
            var values: Segment
            var scales: Segment?
        }

        var major: UInt16 = 1
        var alignment: UInt32 = 64
        var entries: [Entry]
        var data: [UInt8]
        var dataOffset = 256

        /// One per-channel [4, 16] tensor, stored raw: 64 values then 4 scales.
        static func standard() -> CheckpointBuilder {
            let values = (0..<64).map { UInt8(truncatingIfNeeded: $0 * 3) }
            var scales = ByteWriter()
            for _ in 0..<4 { scales.f32(0.01) }
            let data = values + scales.bytes
            let valueSum = values.withUnsafeBytes { checkpointChecksum($0) }
            let scaleSum = scales.bytes.withUnsafeBytes { checkpointChecksum($0) }
            return CheckpointBuilder(
                entries: [Entry(
                    values: Segment(offset: 256, rawLength: 64, storedLength: 64, chunks: [(64, valueSum)]),
                    scales: Segment(offset: 320, rawLength: 16, storedLength: 16, chunks: [(16, scaleSum)]))],
                data: data + [UInt8](repeating: 0, count: 48))
        }

        func header() -> [UInt8] {
            var writer = ByteWriter()
            writer.u32(0)  // no metadata
            writer.u32(UInt32(entries.count))
            for entry in entries {
                var fields = ByteWriter()
                for text in [entry.name, entry.dtype, entry.sourceDType] {
                    fields.u32(UInt32(text.utf8.count))
                    fields.raw(Array(text.utf8))
                }
                fields.u8(UInt8(truncatingIfNeeded: entry.shape.count))
                for dimension in entry.shape { fields.u64(dimension) }
                fields.u8(entry.quantization)
                fields.u64(entry.groupSize)
                for _ in 0..<4 { fields.f32(.nan) }
                for segment in [entry.values, entry.scales].compactMap({ $0 }) {
                    fields.u8(segment.codec)
                    fields.u8(segment.planeWidth)
                    fields.u64(segment.offset)
                    fields.u64(segment.rawLength)
                    fields.u64(segment.storedLength)
                    fields.u64(segment.chunkSize)
                    fields.u64(segment.chunkCount ?? UInt64(segment.chunks.count))
                    for chunk in segment.chunks {
                        fields.u64(chunk.length)
                        fields.u64(chunk.checksum)
                    }
                }
                writer.u32(UInt32(fields.bytes.count))
                writer.raw(fields.bytes)
            }
            return writer.bytes
        }

        var bytes: [UInt8] {
            let header = header()
            var file = [UInt8](repeating: 0, count: max(dataOffset, 64 + header.count))
            file.replaceSubrange(64..<64 + header.count, with: header)
            file += data
            file.replaceSubrange(0..<8, with: CheckpointFormat.magic)
            file.setU16(major, at: 8)
            file.setU16(0, at: 10)
            file.setU32(alignment, at: 12)
            file.setU64(UInt64(header.count), at: 16)
            file.setU64(UInt64(dataOffset), at: 24)
            file.setU64(UInt64(file.count), at: 32)
            reseal(&file)
            return file
        }

        func with(_ edit: (inout CheckpointBuilder) -> Void) -> [UInt8] {
            var copy = self
            edit(&copy)
            return copy.bytes
        }
    }

    /// Recomputes the header and preamble checksums after an edit, so the edit reaches the
    /// structural checks behind them (what a crafted file does).
    static func reseal(_ bytes: inout [UInt8]) {
        let headerLength = bytes.u64(at: 16)
        if headerLength <= UInt64(bytes.count - 64) {
            let end = 64 + Int(headerLength)
            bytes.setU64(bytes[64..<end].withUnsafeBytes { checkpointChecksum($0) }, at: 40)
        }
        bytes.setU64(bytes[0..<56].withUnsafeBytes { checkpointChecksum($0) }, at: 56)
    }

    /// Crafted checkpoints: every field that sizes, places or counts something, set to values
    /// that overflow or contradict, with valid checksums.
    static func craftedCheckpointCases() -> [MalformedInput] {
        func c(_ name: String, _ bytes: [UInt8]) -> MalformedInput { MalformedInput(.checkpoint, name, bytes) }
        let base = CheckpointBuilder.standard()
        func preamble(_ offset: Int, _ value: UInt64) -> [UInt8] {
            var bytes = base.bytes
            bytes.setU64(value, at: offset)
            reseal(&bytes)
            return bytes
        }
        var cases = [
            c("major version 0", base.with { $0.major = 0 }),
            c("major version 2", base.with { $0.major = 2 }),
            c("major version 0xFFFF", base.with { $0.major = .max }),
            c("major version 2, checksums not updated", {
                var bytes = base.bytes
                bytes.setU16(2, at: 8)
                return bytes
            }()),
            c("alignment 0", base.with { $0.alignment = 0 }),
            c("alignment 96 (not a power of two)", base.with { $0.alignment = 96 }),
            c("alignment 2^31", base.with { $0.alignment = 1 << 31 }),
            c("alignment 2^32-1", base.with { $0.alignment = .max }),
            c("header length 2^64-1", preamble(16, max64)),
            c("header length 2^63", preamble(16, 1 << 63)),
            c("header length 2^63-1", preamble(16, UInt64(Int.max))),
            c("header length past the end", preamble(16, UInt64(base.bytes.count))),
            c("data offset 2^64-64", preamble(24, max64 - 63)),
            c("data offset 2^63", preamble(24, 1 << 63)),
            c("data offset inside the header", preamble(24, 64)),
            c("data offset not aligned", preamble(24, 200)),
            c("file length 2^64-1", preamble(32, max64)),
            c("file length 0", preamble(32, 0)),
            c("rank 9", base.with { $0.entries[0].shape = [1, 1, 1, 1, 1, 1, 1, 4, 16] }),
            c("rank 255", base.with { $0.entries[0].shape = [UInt64](repeating: 1, count: 255) }),
            c("dimension 2^63", base.with { $0.entries[0].shape = [1 << 63, 16] }),
            c("element count overflows", base.with { $0.entries[0].shape = [1 << 32, 1 << 32] }),
            c("zero dimension hides overflowing ones (per channel)", base.with {
                $0.entries[0].shape = [0, 1 << 40, 1 << 40]
                $0.entries[0].values = .init(offset: 256, rawLength: 0, storedLength: 0, chunks: [])
                $0.entries[0].scales = .init(offset: 256, rawLength: 0, storedLength: 0, chunks: [])
            }),
            c("2^62 rows of zero columns (scale bytes overflow)", base.with {
                $0.entries[0].shape = [huge, 0]
                $0.entries[0].values = .init(offset: 256, rawLength: 0, storedLength: 0, chunks: [])
                $0.entries[0].scales = .init(offset: 256, rawLength: 0, storedLength: 0, chunks: [])
            }),
            c("unknown quantization 7", base.with { $0.entries[0].quantization = 7 }),
            c("group size on a per-channel tensor", base.with { $0.entries[0].groupSize = 8 }),
            c("group size 0 per group", base.with { $0.entries[0].quantization = 3 }),
            c("group size not dividing the row", base.with { $0.entries[0].quantization = 3; $0.entries[0].groupSize = 5 }),
            c("quantized but stored as F32", base.with { $0.entries[0].dtype = "F32" }),
            c("unknown dtype", base.with { $0.entries[0].dtype = "Q9" }),
            c("dtype with a line break", base.with { $0.entries[0].dtype = "I8\nF32" }),
            c("empty name", base.with { $0.entries[0].name = "" }),
            MalformedInput(.checkpoint, "a damaged chunk of a tensor whose name has a line break",
                           base.with { $0.entries[0].name = "w\nx"; $0.entries[0].values.chunks[0].checksum ^= 1 }, expectation: .rejectedOnRead),
            c("duplicate name", base.with { $0.entries.append($0.entries[0]) }),
            c("unknown codec 9", base.with { $0.entries[0].values.codec = 9 }),
            c("plane width 0", base.with { $0.entries[0].values.planeWidth = 0 }),
            c("plane width 9", base.with { $0.entries[0].values.codec = 2; $0.entries[0].values.planeWidth = 9 }),
            c("segment offset 2^63-1", base.with { $0.entries[0].values.offset = UInt64(Int.max) }),
            c("segment offset 2^64-64", base.with { $0.entries[0].values.offset = max64 - 63 }),
            c("segment offset not aligned", base.with { $0.entries[0].values.offset = 257 }),
            c("segment offset before the data section", base.with { $0.entries[0].values.offset = 0 }),
            c("offset + stored length overflows", base.with {
                $0.entries[0].values.offset = 1 << 62
                $0.entries[0].values.storedLength = 1 << 62 + 64
                $0.entries[0].values.chunks = [(1 << 62 + 64, 0)]
            }),
            c("raw length 2^62", base.with { $0.entries[0].values.rawLength = huge }),
            c("stored length not the sum of the chunks", base.with { $0.entries[0].values.storedLength = 63 }),
            c("chunk size 0", base.with { $0.entries[0].values.chunkSize = 0 }),
            c("chunk size 2^31", base.with { $0.entries[0].values.chunkSize = 1 << 31 }),
            c("chunk size 2^64-1", base.with { $0.entries[0].values.chunkSize = max64 }),
            c("chunk count 2^60", base.with { $0.entries[0].values.chunkCount = 1 << 60 }),
            c("chunk count 2^64-1", base.with { $0.entries[0].values.chunkCount = max64 }),
            c("chunk stored length 0", base.with { $0.entries[0].values.chunks[0].length = 0 }),
            c("chunk stored length 2^63", base.with { $0.entries[0].values.chunks[0].length = 1 << 63 }),
            MalformedInput(.checkpoint, "zstd chunk claiming 1 GiB from 64 bytes", base.with {
                $0.entries[0].values.codec = 1
                $0.entries[0].values.rawLength = 1 << 30
                $0.entries[0].values.chunkSize = 1 << 30
                $0.entries[0].shape = [1 << 24, 64]
                $0.entries[0].scales!.rawLength = 1 << 26
                $0.entries[0].scales!.codec = 1
                $0.entries[0].scales!.chunkSize = 1 << 30
            }, expectation: .rejectedOnRead),
            c("scales of the wrong length", base.with { $0.entries[0].scales!.rawLength = 12 }),
            c("segments overlap", base.with { $0.entries[0].scales = $0.entries[0].values; $0.entries[0].scales!.rawLength = 16; $0.entries[0].scales!.chunks[0].length = 16; $0.entries[0].scales!.storedLength = 16 }),
            c("a quantized tensor without scales", base.with {
                $0.entries[0].scales = nil
            }),
        ]
        // Counts and lengths in the header itself, past what the header holds.
        func headerEdit(_ name: String, at offset: Int, _ value: UInt32) {
            var bytes = base.bytes
            bytes.setU32(value, at: 64 + offset)
            reseal(&bytes)
            cases.append(c(name, bytes))
        }
        headerEdit("metadata count 2^32-1", at: 0, .max)
        headerEdit("tensor count 2^32-1", at: 4, .max)
        headerEdit("entry length 2^32-1", at: 8, .max)
        headerEdit("name length 2^32-1", at: 12, .max)
        headerEdit("entry length 0", at: 8, 0)
        return cases
    }

    /// Damage to a real checkpoint (written by `swiftquant convert`): truncation at every
    /// structural boundary and at random points, with and without a forged file length, and
    /// single bit flips in the header and in chunks. `reader` is the undamaged file opened.
    static func damagedCheckpointCases(good: [UInt8], reader: CheckpointFile, randomCuts: Int = 8) -> [MalformedInput] {
        var cases: [MalformedInput] = []
        let headerLength = Int(good.u64(at: 16))
        let segments = reader.entries.flatMap { [$0.values, $0.scales].compactMap { $0 } }.filter { $0.storedLength > 0 }
        let lastSegmentEnd = segments.map { $0.offset + $0.storedLength }.max() ?? reader.dataOffset

        // Structural boundaries: every preamble field, the header and data starts, each
        // segment and each chunk start and end.
        var boundaries: Set<Int> = [0, 4, 8, 10, 12, 16, 24, 32, 40, 48, 56, 63, 64, 64 + headerLength / 2,
                                    64 + headerLength, reader.dataOffset, good.count - 1]
        for segment in segments {
            boundaries.insert(segment.offset)
            var position = segment.offset
            for chunk in segment.chunks {
                boundaries.insert(position + chunk.storedLength / 2)
                position += chunk.storedLength
                boundaries.insert(position)
            }
        }
        var random = CorpusRandom(state: 0xC0FFEE)
        for _ in 0..<randomCuts { boundaries.insert(1 + random.next(good.count - 1)) }
        for cut in boundaries.sorted() where cut < good.count {
            cases.append(MalformedInput(.checkpoint, "truncated at byte \(cut)", Array(good.prefix(cut))))
            // The same cut with the file length and checksums forged to match: the layout
            // checks must catch it (cutting only the final padding leaves a valid file).
            if cut >= 64 + headerLength && cut < lastSegmentEnd {
                var forged = Array(good.prefix(cut))
                forged.setU64(UInt64(cut), at: 32)
                reseal(&forged)
                cases.append(MalformedInput(.checkpoint, "truncated at byte \(cut), file length forged", forged))
            }
        }
        cases.append(MalformedInput(.checkpoint, "one byte appended", good + [0]))

        // Bit flips: in the preamble and header every flip is caught at open; in a chunk, on read.
        for (index, offset) in [9, 13, 20, 44, 60, 64 + headerLength / 3, 64 + headerLength - 1].enumerated() {
            var bytes = good
            bytes[offset] ^= UInt8(1) << (index % 8)
            cases.append(MalformedInput(.checkpoint, "bit flip at header byte \(offset)", bytes))
        }
        for (index, segment) in segments.enumerated() where index % max(1, segments.count / 6) == 0 {
            var bytes = good
            let offset = segment.offset + random.next(segment.storedLength)
            bytes[offset] ^= UInt8(1) << random.next(8)
            cases.append(MalformedInput(.checkpoint, "bit flip in a chunk at byte \(offset)", bytes, expectation: .rejectedOnRead))
        }
        return cases
    }

    // MARK: rules config

    static func configCases() -> [MalformedInput] {
        func c(_ name: String, _ text: String) -> MalformedInput { MalformedInput(.config, name, Array(text.utf8)) }
        func b(_ name: String, _ bytes: [UInt8]) -> MalformedInput { MalformedInput(.config, name, bytes) }
        var laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            laughs += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        laughs += "rules:\n  - match: *a9\n"
        return [
            c("empty", ""),
            c("only a comment", "# nothing here\n"),
            c("not YAML", "rules: [\n  - match: *\n"),
            c("a tab for indentation", "rules:\n\t- match: '*'\n"),
            c("a list at the top", "- match: '*'\n"),
            c("a scalar at the top", "per-channel\n"),
            c("unknown top-level key", "granularty: per-channel\n"),
            c("unknown rule key", "rules:\n  - match: '*'\n    acton: keep\n"),
            c("duplicate key", "granularity: per-channel\ngranularity: per-tensor\n"),
            c("unknown granularity", "granularity: per-row\n"),
            c("group size 0", "granularity: per-group\ngroup_size: 0\n"),
            c("group size -32", "granularity: per-group\ngroup_size: -32\n"),
            c("group size 2^64", "granularity: per-group\ngroup_size: 18446744073709551616\n"),
            c("group size 1e400", "granularity: per-group\ngroup_size: 1e400\n"),
            c("rules is a mapping", "rules: {match: '*'}\n"),
            c("a rule without match", "rules:\n  - action: keep\n"),
            c("empty match", "rules:\n  - match: ''\n"),
            c("a regex that does not compile", "rules:\n  - match: 're:(unclosed'\n"),
            c("match is a mapping", "rules:\n  - match: {a: b}\n"),
            c("unknown action", "rules:\n  - match: '*'\n    action: delete\n"),
            c("unknown keep dtype", "keep_dtype: f12\n"),
            c("min_snr_db is text", "rules:\n  - match: '*'\n    min_snr_db: high\n"),
            c("layers is text", "rules:\n  - match: '*'\n    layers: first\n"),
            c("flow nesting 10,000 deep (fuzz regression)", "rules: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"),
            c("block nesting 10,000 deep", "rules:\n" + String(repeating: "- ", count: 10_000) + "x\n"),
            c("mapping nesting 5,000 deep", String(repeating: "{a: ", count: 5_000) + String(repeating: "}", count: 5_000) + "\n"),
            // Found by fuzzing: the unknown key's line breaks went straight into the message.
            c("unknown key with line breaks (fuzz regression)", "\"bad\\n\\n\\nkey\": 1\n"),
            c("value with line breaks", "granularity: \"per\\nchannel\"\n"),
            c("alias bomb (a billion laughs)", laughs),
            c("undefined alias", "rules:\n  - match: *nowhere\n"),
            b("invalid UTF-8", Array("granularity: ".utf8) + [0xFF, 0xFE, 0x0A]),
            b("NUL bytes", [UInt8](repeating: 0, count: 64)),
            b("binary junk", (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }),
            MalformedInput(.config, "a folder instead of a file", files: [("rules/", [])], input: "rules"),
            MalformedInput(.config, "a missing file", files: [], input: "missing.yaml"),
        ]
    }
}

private extension Array where Element == UInt8 {
    /// Sets the n_dims field of the tensor info named `name` (for counts no builder can hold).
    func replacingNDims(name: String, with value: UInt32) -> [UInt8] {
        var bytes = self
        let needle = Array(name.utf8)
        var prefix = [UInt8]()
        Swift.withUnsafeBytes(of: UInt64(needle.count).littleEndian) { prefix += $0 }
        let pattern = prefix + needle
        guard let start = (0...(count - pattern.count)).first(where: { Array(self[$0..<$0 + pattern.count]) == pattern }) else {
            return bytes
        }
        bytes.setU32(value, at: start + pattern.count)
        return bytes
    }
}
