import SwiftQuantCore
import SwiftQuantKernels
/// Reads little-endian fields from the header with a bounds check before every read, so a
/// crafted length or count can never read past the header or allocate more than it holds.
struct CheckpointHeaderCursor {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    var end: Int
    let path: String

    /// The error for an invalid field at `offset`; overridden to name the tensor inside entries.
    var fail: (_ offset: Int, _ reason: String) -> CheckpointError

    init(bytes: UnsafeRawBufferPointer, position: Int, end: Int, path: String) {
        self.bytes = bytes
        self.position = position
        self.end = end
        self.path = path
        fail = { offset, reason in .malformedHeader(path: path, offset: offset, reason: reason) }
    }

    var remaining: Int { end - position }

    mutating func take(_ count: Int, _ what: String) throws(CheckpointError) -> Int {
        guard count >= 0, count <= remaining else {
            throw fail(position, "\(what) needs \(count) bytes but only \(remaining) are left in the header")
        }
        defer { position += count }
        return position
    }

    mutating func u8(_ what: String) throws(CheckpointError) -> UInt8 {
        bytes[try take(1, what)]
    }

    mutating func u32(_ what: String) throws(CheckpointError) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4, what), as: UInt32.self))
    }

    mutating func u64(_ what: String) throws(CheckpointError) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8, what), as: UInt64.self))
    }

    /// A u64 that must fit in `Int` (and so in the address space).
    mutating func size(_ what: String) throws(CheckpointError) -> Int {
        let at = position
        let value = try u64(what)
        guard value <= UInt64(Int.max) else { throw fail(at, "\(what) \(value) is too large") }
        return Int(value)
    }

    mutating func f32(_ what: String) throws(CheckpointError) -> Float {
        Float(bitPattern: try u32(what))
    }

    mutating func f64(_ what: String) throws(CheckpointError) -> Double {
        Double(bitPattern: try u64(what))
    }

    /// A u32 byte length then that many bytes of UTF-8.
    package mutating func string(_ what: String) throws(CheckpointError) -> String {
        let at = position
        let length = Int(try u32("length of \(what)"))
        let start = try take(length, what)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<start + length])
        guard let text = String(validating: slice.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw fail(at, "\(what) is not valid UTF-8")
        }
        return text
    }
}
