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

/// Bytes that keep their own memory alive: a view into a memory-mapped file (the value holds
/// the ``MappedFile``) or a heap buffer it owns. Copying the value shares the memory.
///
/// Unlike a bare `UnsafeRawBufferPointer` with a separate owner, nobody has to keep anything
/// alive by hand: the bytes are valid for as long as some copy of this value exists, and
/// ``withUnsafeBytes(_:)`` lends them out for the duration of a call.
public struct SharedBytes: @unchecked Sendable {
    // Sendable: the memory is never written through this type after it was filled, and
    // `owner` is a MappedFile or an OwnedBytes, both immutable once built.
    private let base: UnsafeRawBufferPointer
    /// Keeps the memory behind the bytes alive.
    public let owner: AnyObject

    /// A view of `bytes`, which `owner` keeps alive (a mapped file, a decoded buffer).
    public init(viewing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        base = bytes
        self.owner = owner
    }

    /// All bytes of an owned buffer.
    public init(_ buffer: OwnedBytes) {
        self.init(viewing: buffer.bytes, owner: buffer)
    }

    /// A copy of `source` in a new 64-byte aligned buffer.
    public init(copying source: UnsafeRawBufferPointer) {
        self.init(OwnedBytes(copying: source))
    }

    /// A copy of the elements' bytes, in memory order.
    public init<Element: BitwiseCopyable>(copying elements: [Element]) {
        self = elements.withUnsafeBytes { SharedBytes(copying: $0) }
    }

    /// The number of bytes.
    public var count: Int { base.count }

    /// The bytes without lending: valid only while `owner` is kept alive by the caller (as a
    /// layer's weight buffer keeps it), for kernels that hold both.
    package var unretainedBytes: UnsafeRawBufferPointer { base }

    /// Calls `body` with the bytes, which stay valid until it returns.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        defer { withExtendedLifetime(owner) {} }
        return try body(base)
    }

    /// The bytes viewed as `Element`s (which must be 1 byte wide or suitably aligned) for the
    /// duration of `body`.
    public func withUnsafeElements<Element: BitwiseCopyable, Result, Failure: Error>(
        of type: Element.Type, _ body: (UnsafeBufferPointer<Element>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeBytes { (bytes) throws(Failure) in
            try body(UnsafeBufferPointer(
                start: bytes.baseAddress?.assumingMemoryBound(to: Element.self),
                count: bytes.count / MemoryLayout<Element>.stride))
        }
    }

    /// A copy of the bytes as an array of `Element`s (loaded unaligned, native byte order).
    public func elements<Element: BitwiseCopyable>(as type: Element.Type) -> [Element] {
        withUnsafeBytes { bytes in
            (0..<bytes.count / MemoryLayout<Element>.stride).map {
                bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Element>.stride, as: Element.self)
            }
        }
    }
}

extension SharedBytes: Equatable {
    /// Equal when the bytes are equal, wherever they live.
    public static func == (lhs: SharedBytes, rhs: SharedBytes) -> Bool {
        lhs.withUnsafeBytes { a in rhs.withUnsafeBytes { b in a.elementsEqual(b) } }
    }
}

extension TensorData {
    /// The bytes as a value that keeps its owner alive by itself.
    public var shared: SharedBytes { SharedBytes(viewing: bytes, owner: owner) }
}
