import SwiftQuantCore
import SwiftQuantKernels
/// Reads little-endian fields from the header with a bounds check before every read, so a
/// crafted length or count can never read past the header or allocate more than it holds.
/// The reading is Core's ``ByteCursor``; this adds the checkpoint's errors and field names.
struct CheckpointHeaderCursor {
    private var cursor: ByteCursor
    let path: String

    var bytes: UnsafeRawBufferPointer { cursor.bytes }
    var position: Int {
        get { cursor.position }
        set { cursor.position = newValue }
    }
    var end: Int {
        get { cursor.end }
        set { cursor.end = newValue }
    }

    /// The error for an invalid field at `offset`; overridden to name the tensor inside entries.
    var fail: (_ offset: Int, _ reason: String) -> CheckpointError

    init(bytes: UnsafeRawBufferPointer, position: Int, end: Int, path: String) {
        cursor = ByteCursor(bytes: bytes, position: position, end: end)
        self.path = path
        fail = { offset, reason in .malformedHeader(path: path, offset: offset, reason: reason) }
    }

    var remaining: Int { cursor.remaining }

    mutating func take(_ count: Int, _ what: String) throws(CheckpointError) -> Int {
        guard let start = cursor.take(count) else { throw shortfall(count, what) }
        return start
    }

    mutating func u8(_ what: String) throws(CheckpointError) -> UInt8 {
        guard let value = cursor.integer(UInt8.self) else { throw shortfall(1, what) }
        return value
    }

    mutating func u32(_ what: String) throws(CheckpointError) -> UInt32 {
        guard let value = cursor.integer(UInt32.self) else { throw shortfall(4, what) }
        return value
    }

    mutating func u64(_ what: String) throws(CheckpointError) -> UInt64 {
        guard let value = cursor.integer(UInt64.self) else { throw shortfall(8, what) }
        return value
    }

    private func shortfall(_ count: Int, _ what: String) -> CheckpointError {
        fail(position, "\(what) needs \(count) bytes but only \(remaining) are left in the header")
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
        guard let text = cursor.utf8(count: length) else { throw shortfall(length, what) }
        guard let text else { throw fail(at, "\(what) is not valid UTF-8") }
        return text
    }
}
