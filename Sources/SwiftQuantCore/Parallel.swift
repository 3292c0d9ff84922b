import Dispatch

/// The number of worker threads the kernels use; both cores of the reference machine by default.
///
/// `swiftquant convert --threads N` sets this. Results never depend on it: work is split
/// into fixed-size pieces whose outputs are combined in a fixed order.
public enum KernelThreads {
    nonisolated(unsafe) private static var configured: Int = 0

    /// The active thread count (at least 1).
    public static var count: Int {
        get { configured > 0 ? configured : max(1, ProcessInfoCores.active) }
        set { configured = max(0, newValue) }
    }
}

enum ProcessInfoCores {
    static let active: Int = {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }()
}

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` over `0..<count` split into contiguous ranges, on up to `KernelThreads.count` threads.
///
/// Ranges smaller than `minimumChunk` are not split further, so tiny tensors stay on one thread.
/// `body` must only write to memory that belongs to its own range.
public func parallelRanges(
    _ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void
) {
    guard count > 0 else { return }
    let threads = min(KernelThreads.count, max(1, count / max(1, minimumChunk)))
    if threads <= 1 {
        body(0..<count)
        return
    }
    // Several pieces per thread balances uneven rows without per-element scheduling.
    let pieces = min(count, threads * 4)
    // Callers pass raw pointers into disjoint ranges; the closure itself is not Sendable.
    withoutActuallyEscaping(body) { escapable in
        nonisolated(unsafe) let work = escapable
        DispatchQueue.concurrentPerform(iterations: pieces) { piece in
            let start = count * piece / pieces
            let end = count * (piece + 1) / pieces
            if start < end { work(start..<end) }
        }
    }
}
