import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many worker threads the kernels use: a task-local value, every active core by default.
///
/// Bind a count around the work that should honour it, for example
/// `Parallelism.withThreads(2) { try converter.run() }` (`swiftquant convert --threads N` does
/// this). A task-local rather than a process-wide setting, so two conversions in one process
/// can use different counts without racing. Results never depend on the count: work is split
/// into fixed-size pieces whose outputs are combined in a fixed order.
///
/// Task-locals do not cross into threads the code starts itself: code that hands work to a
/// `Thread` or to `DispatchQueue` must capture ``threads`` and rebind it there
/// (`performConcurrently(iterations:_:)` does this for the kernels' workers).
public enum Parallelism {
    /// The count bound by ``withThreads(_:_:)``; `nil` outside any binding.
    @TaskLocal static var bound: Int?

    /// The thread count in effect here (at least 1).
    public static var threads: Int { bound ?? activeCores }

    /// The number of online cores of this machine (at least 1).
    public static let activeCores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Runs `body` with the kernels limited to `count` threads (at least 1); with `nil`, with
    /// the count already in effect.
    public static func withThreads<Result>(_ count: Int?, _ body: () throws -> Result) rethrows -> Result {
        guard let count else { return try body() }
        return try $bound.withValue(max(1, count), operation: body)
    }
}

/// `DispatchQueue.concurrentPerform` with the caller's thread count bound in every worker, so a
/// kernel called from a worker honours the same ``Parallelism/threads``.
package func performConcurrently(iterations: Int, _ body: (Int) -> Void) {
    let threads = Parallelism.threads
    // The closure runs only while concurrentPerform blocks this thread; it is not Sendable
    // because callers write to disjoint parts of shared buffers from it.
    withoutActuallyEscaping(body) { escapable in
        nonisolated(unsafe) let work = escapable
        DispatchQueue.concurrentPerform(iterations: iterations) { iteration in
            Parallelism.$bound.withValue(threads) { work(iteration) }
        }
    }
}

/// Runs `body` over `0..<count` split into contiguous ranges, on up to ``Parallelism/threads`` threads.
///
/// Ranges smaller than `minimumChunk` are not split further, so tiny tensors stay on one thread.
/// `body` must only write to memory that belongs to its own range.
package func parallelRanges(
    _ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void
) {
    guard count > 0 else { return }
    let threads = min(Parallelism.threads, max(1, count / max(1, minimumChunk)))
    if threads <= 1 {
        body(0..<count)
        return
    }
    // Several pieces per thread balances uneven rows without per-element scheduling.
    let pieces = min(count, threads * 4)
    performConcurrently(iterations: pieces) { piece in
        let start = count * piece / pieces
        let end = count * (piece + 1) / pieces
        if start < end { body(start..<end) }
    }
}
