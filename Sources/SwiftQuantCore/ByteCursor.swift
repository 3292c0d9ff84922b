/// Reads little-endian fields from a byte buffer, checking the bounds before every read: the
/// one cursor behind the binary headers (GGUF, the SwiftQuant checkpoint).
///
/// It reports a shortfall as `nil` and never throws, so each format keeps its own errors (and
/// its own wording and offsets) in a thin wrapper, while the bounds checks, the little-endian
/// loads and the UTF-8 validation exist once.
package struct ByteCursor {
    package let bytes: UnsafeRawBufferPointer
    /// The offset of the next read within `bytes`.
    package var position: Int
    /// Reads stop here (a header's end, or the end of the buffer).
    package var end: Int

    package init(bytes: UnsafeRawBufferPointer, position: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.position = position
        self.end = end ?? bytes.count
    }

    /// The bytes left before `end`.
    package var remaining: Int { end - position }

    /// Moves past `count` bytes and returns where they start, or `nil` (without moving) when
    /// `count` is negative or more than are left.
    package mutating func take(_ count: Int) -> Int? {
        guard count >= 0, count <= remaining else { return nil }
        defer { position += count }
        return position
    }

    /// The next little-endian integer, or `nil` when too few bytes are left.
    package mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard let start = take(MemoryLayout<T>.size) else { return nil }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: T.self))
    }

    /// The `count` bytes at the current position as UTF-8, moving past them: `nil` when fewer
    /// are left, `.some(nil)` (having moved) when they are not valid UTF-8.
    package mutating func utf8(count: Int) -> String?? {
        guard let start = take(count) else { return nil }
        return .some(String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<start + count]), as: UTF8.self))
    }
}
