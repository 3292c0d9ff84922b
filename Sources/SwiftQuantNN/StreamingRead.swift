import CSwiftQuantKernels
import SwiftQuantCore
import SwiftQuantKernels

/// Reads every byte of `bytes` on the kernel threads, with the widest loads of the active
/// ``KernelISA``, and returns a checksum so the reads cannot be optimised away.
///
/// The memory-bandwidth baseline for the matrix-vector product, which streams its weight bytes
/// the same way: `swiftquant bench read-bandwidth` and the batch-1 cases' `ratio_to_read_bandwidth`.
package func streamingReadChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
    let isa = KernelISA.active.rawValue
    // Whole 4 KiB pages per piece; each piece writes only its own slot.
    let page = 4096
    let pages = (bytes.count + page - 1) / page
    let threads = Parallelism.threads
    var sums = [UInt64](repeating: 0, count: threads)
    sums.withUnsafeMutableBufferPointer { slots in
        nonisolated(unsafe) let slots = slots
        parallelRanges(threads, minimumChunk: 1) { range in
            for thread in range {
                let start = pages * thread / threads * page
                let end = min(bytes.count, pages * (thread + 1) / threads * page)
                if start < end { slots[thread] = sqk_stream_read(isa, base + start, end - start) }
            }
        }
    }
    return sums.reduce(0, ^)
}
