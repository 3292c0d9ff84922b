/// A tensor's raw bytes in its stored dtype, valid as long as this value lives.
///
/// For a memory-mapped, uncompressed tensor `bytes` points into the map (zero-copy) and
/// `owner` is the ``MappedFile``; for a decoded one, `owner` holds the decoded buffer.
public struct TensorData: @unchecked Sendable {
    public let info: TensorInfo
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the memory behind `bytes` alive.
    public let owner: AnyObject

    public init(info: TensorInfo, bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.info = info
        self.bytes = bytes
        self.owner = owner
    }

    /// Bytes copied into a new owned buffer, for data that does not come from a map.
    public init(info: TensorInfo, copying source: UnsafeRawBufferPointer) {
        let buffer = OwnedBytes(copying: source)
        self.init(info: info, bytes: buffer.bytes, owner: buffer)
    }
}

/// A heap buffer that frees itself; the owner of decoded tensor bytes.
public final class OwnedBytes: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    /// Allocates `count` uninitialised bytes, 64-byte aligned for SIMD loads.
    public init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if let base = source.baseAddress { pointer.copyMemory(from: base, byteCount: source.count) }
    }

    deinit { pointer.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pointer, count: count)
    }
}
