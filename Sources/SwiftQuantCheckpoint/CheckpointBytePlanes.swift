import SwiftQuantCore
import SwiftQuantKernels
/// Byte grouping (ZipNN): plane `k` holds byte `k` of every value, so the exponent bytes of
/// floats sit together and compress far better than interleaved.
///
/// `split` and `join` are inverses for any `width`; a `width` of 1 is a copy. Widths 2, 4 and
/// 8 run 16 values at a time: a value is a little-endian integer, and plane `k` is its byte
/// `k`, so shifts and truncations do the (de)interleaving in SIMD registers.
public enum BytePlanes {
    /// Writes the planes of `values` (count a multiple of `width`) into `planes`.
    public static func split(_ values: UnsafeRawBufferPointer, width: Int, into planes: UnsafeMutableRawBufferPointer) {
        precondition(values.count == planes.count && width > 0 && values.count % width == 0)
        guard let input = values.baseAddress, let output = planes.baseAddress else { return }
        let count = values.count / width
        let done: Int
        switch width {
        case 2: done = splitLanes(input, output, count: count, as: UInt16.self)
        case 4: done = splitLanes(input, output, count: count, as: UInt32.self)
        case 8: done = splitLanes(input, output, count: count, as: UInt64.self)
        default: done = 0
        }
        let inBytes = input.assumingMemoryBound(to: UInt8.self)
        let outBytes = output.assumingMemoryBound(to: UInt8.self)
        for i in done..<count {
            for k in 0..<width { outBytes[k * count + i] = inBytes[i * width + k] }
        }
    }

    /// Interleaves `planes` (as ``split(_:width:into:)`` wrote them) back into `values`.
    public static func join(_ planes: UnsafeRawBufferPointer, width: Int, into values: UnsafeMutableRawBufferPointer) {
        precondition(values.count == planes.count && width > 0 && values.count % width == 0)
        guard let input = planes.baseAddress, let output = values.baseAddress else { return }
        let count = values.count / width
        let done: Int
        switch width {
        case 2: done = joinLanes(input, output, count: count, as: UInt16.self)
        case 4: done = joinLanes(input, output, count: count, as: UInt32.self)
        case 8: done = joinLanes(input, output, count: count, as: UInt64.self)
        default: done = 0
        }
        let inBytes = input.assumingMemoryBound(to: UInt8.self)
        let outBytes = output.assumingMemoryBound(to: UInt8.self)
        for i in done..<count {
            for k in 0..<width { outBytes[i * width + k] = inBytes[k * count + i] }
        }
    }

    /// Splits whole groups of 16 values; returns how many values it did.
    @inline(__always)
    private static func splitLanes<Word: FixedWidthInteger & UnsignedInteger & SIMDScalar>(
        _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, count: Int, as: Word.Type
    ) -> Int {
        let width = MemoryLayout<Word>.size
        var i = 0
        while i + 16 <= count {
            var words = SIMD16<Word>()
            for lane in 0..<16 {
                words[lane] = Word(littleEndian: input.loadUnaligned(fromByteOffset: (i + lane) * width, as: Word.self))
            }
            for k in 0..<width {
                let plane = SIMD16<UInt8>(truncatingIfNeeded: words &>> Word(8 * k))
                output.storeBytes(of: plane, toByteOffset: k * count + i, as: SIMD16<UInt8>.self)
            }
            i += 16
        }
        return i
    }

    /// Joins whole groups of 16 values; returns how many values it did.
    @inline(__always)
    private static func joinLanes<Word: FixedWidthInteger & UnsignedInteger & SIMDScalar>(
        _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, count: Int, as: Word.Type
    ) -> Int {
        let width = MemoryLayout<Word>.size
        var i = 0
        while i + 16 <= count {
            var words = SIMD16<Word>()
            for k in 0..<width {
                let plane = input.loadUnaligned(fromByteOffset: k * count + i, as: SIMD16<UInt8>.self)
                words |= SIMD16<Word>(truncatingIfNeeded: plane) &<< Word(8 * k)
            }
            for lane in 0..<16 {
                output.storeBytes(of: words[lane].littleEndian, toByteOffset: (i + lane) * width, as: Word.self)
            }
            i += 16
        }
        return i
    }
}
