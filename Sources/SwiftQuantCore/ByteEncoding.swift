extension Array where Element == UInt8 {
    /// Appends `value`'s bytes, least significant first: every binary format here is little-endian.
    package mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
