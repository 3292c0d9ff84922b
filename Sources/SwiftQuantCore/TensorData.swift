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
