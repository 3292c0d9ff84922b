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
        var alignment = max(alignment, MemoryLayout<UnsafeRawPointer>.size)
        #if os(Linux)
        let huge = count >= Self.hugePageThreshold
        if huge { alignment = max(alignment, Self.hugePageSize) }
        #endif
        guard count >= 0, posix_memalign(&memory, alignment, max(count, 1)) == 0, let memory else { return nil }
        pointer = memory
        self.count = count
        #if os(Linux)
        // A large buffer is written whole right away (quantized codes, decoded tensors): in 2 MiB
        // pages it takes one page fault per 2 MiB instead of one per 4 KiB. With transparent huge
        // pages set to `madvise` (the usual default) only advised ranges get them; elsewhere the
        // advice is ignored. Converting a 1 GiB checkpoint: fresh code buffers' page faults were
        // ~10 % of its CPU time.
        if huge {
            let end = (Int(bitPattern: memory) + count) & ~(Self.hugePageSize - 1)
            if end > Int(bitPattern: memory) {
                _ = madvise(memory, end - Int(bitPattern: memory), Int32(MADV_HUGEPAGE))
            }
        }
        #endif
    }

    #if os(Linux)
    /// Buffers from this size on are aligned to and advised for transparent huge pages.
    static let hugePageThreshold = 4 << 20
    static let hugePageSize = 2 << 20
    #endif

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
