#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap buffer that frees itself: the one owned-buffer type of the package (decoded tensor
/// bytes, decompressed checkpoint segments, benchmark inputs).
public final class OwnedBytes: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    /// Allocates `count` uninitialised bytes, 64-byte aligned for SIMD loads; out of memory
    /// traps, as any Swift allocation does.
    public convenience init(count: Int) {
        self.init(allocating: count, alignment: 64)!
    }

    /// Allocates `count` uninitialised bytes aligned to `alignment` (a power of two), or `nil`
    /// when the memory is not available: for sizes that come from a file, where a crafted
    /// header must give an error, not a crash.
    package init?(allocating count: Int, alignment: Int) {
        var memory: UnsafeMutableRawPointer?
        let alignment = max(alignment, MemoryLayout<UnsafeRawPointer>.size)
        guard count >= 0, posix_memalign(&memory, alignment, max(count, 1)) == 0, let memory else { return nil }
        pointer = memory
        self.count = count
    }

    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if let base = source.baseAddress { pointer.copyMemory(from: base, byteCount: source.count) }
    }

    deinit { free(pointer) }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    /// Calls `body` with the bytes while keeping the buffer alive: the safe way to use
    /// ``bytes`` of a buffer nothing else holds.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(bytes) }
    }
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pointer, count: count)
    }
}
