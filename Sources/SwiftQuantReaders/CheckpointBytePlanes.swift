/// Byte grouping (ZipNN): plane `k` holds byte `k` of every value, so the exponent bytes of
/// floats sit together and compress far better than interleaved.
///
/// `split` and `join` are inverses for any `width`; a `width` of 1 is a copy.
public enum BytePlanes {
    /// Writes the planes of `values` (count a multiple of `width`) into `planes`.
    public static func split(_ values: UnsafeRawBufferPointer, width: Int, into planes: UnsafeMutableRawBufferPointer) {
        precondition(values.count == planes.count && width > 0 && values.count % width == 0)
        guard let input = values.baseAddress, let output = planes.baseAddress else { return }
        let count = values.count / width
        switch width {
        case 2:
            var i = 0
            while i + 32 <= count * 2 {
                let v = input.loadUnaligned(fromByteOffset: i, as: SIMD32<UInt8>.self)
                output.storeBytes(of: v.evenHalf, toByteOffset: i / 2, as: SIMD16<UInt8>.self)
                output.storeBytes(of: v.oddHalf, toByteOffset: count + i / 2, as: SIMD16<UInt8>.self)
                i += 32
            }
            splitScalar(input, output, width: 2, count: count, from: i / 2)
        case 4:
            var i = 0
            while i + 64 <= count * 4 {
                let v = input.loadUnaligned(fromByteOffset: i, as: SIMD64<UInt8>.self)
                let even = v.evenHalf, odd = v.oddHalf
                let j = i / 4
                output.storeBytes(of: even.evenHalf, toByteOffset: j, as: SIMD16<UInt8>.self)
                output.storeBytes(of: odd.evenHalf, toByteOffset: count + j, as: SIMD16<UInt8>.self)
                output.storeBytes(of: even.oddHalf, toByteOffset: 2 * count + j, as: SIMD16<UInt8>.self)
                output.storeBytes(of: odd.oddHalf, toByteOffset: 3 * count + j, as: SIMD16<UInt8>.self)
                i += 64
            }
            splitScalar(input, output, width: 4, count: count, from: i / 4)
        default:
            splitScalar(input, output, width: width, count: count, from: 0)
        }
    }

    /// Interleaves `planes` (as ``split(_:width:into:)`` wrote them) back into `values`.
    public static func join(_ planes: UnsafeRawBufferPointer, width: Int, into values: UnsafeMutableRawBufferPointer) {
        precondition(values.count == planes.count && width > 0 && values.count % width == 0)
        guard let input = planes.baseAddress, let output = values.baseAddress else { return }
        let count = values.count / width
        let inBytes = input.assumingMemoryBound(to: UInt8.self)
        let outBytes = output.assumingMemoryBound(to: UInt8.self)
        switch width {
        case 2:
            var j = 0
            while j + 16 <= count {
                let a = input.loadUnaligned(fromByteOffset: j, as: SIMD16<UInt8>.self)
                let b = input.loadUnaligned(fromByteOffset: count + j, as: SIMD16<UInt8>.self)
                output.storeBytes(of: interleave(a, b), toByteOffset: j * 2, as: SIMD32<UInt8>.self)
                j += 16
            }
            joinScalar(inBytes, outBytes, width: 2, count: count, from: j)
        case 4:
            var j = 0
            while j + 16 <= count {
                let p0 = input.loadUnaligned(fromByteOffset: j, as: SIMD16<UInt8>.self)
                let p1 = input.loadUnaligned(fromByteOffset: count + j, as: SIMD16<UInt8>.self)
                let p2 = input.loadUnaligned(fromByteOffset: 2 * count + j, as: SIMD16<UInt8>.self)
                let p3 = input.loadUnaligned(fromByteOffset: 3 * count + j, as: SIMD16<UInt8>.self)
                let low = interleave(p0, p1), high = interleave(p2, p3)
                // Interleaving 16-bit pairs of (low, high) yields p0 p1 p2 p3 per value.
                let words = interleave(
                    unsafeBitCast(low, to: SIMD16<UInt16>.self), unsafeBitCast(high, to: SIMD16<UInt16>.self))
                output.storeBytes(of: words, toByteOffset: j * 4, as: SIMD32<UInt16>.self)
                j += 16
            }
            joinScalar(inBytes, outBytes, width: 4, count: count, from: j)
        default:
            joinScalar(inBytes, outBytes, width: width, count: count, from: 0)
        }
    }

    @inline(__always)
    private static func interleave<T: FixedWidthInteger>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD32<T> {
        var result = SIMD32<T>()
        for k in 0..<16 {
            result[2 * k] = a[k]
            result[2 * k + 1] = b[k]
        }
        return result
    }

    private static func splitScalar(
        _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, width: Int, count: Int, from start: Int
    ) {
        let inBytes = input.assumingMemoryBound(to: UInt8.self)
        let outBytes = output.assumingMemoryBound(to: UInt8.self)
        for i in start..<max(start, count) {
            for k in 0..<width { outBytes[k * count + i] = inBytes[i * width + k] }
        }
    }

    private static func joinScalar(
        _ input: UnsafePointer<UInt8>, _ output: UnsafeMutablePointer<UInt8>, width: Int, count: Int, from start: Int
    ) {
        for i in start..<max(start, count) {
            for k in 0..<width { output[i * width + k] = input[k * count + i] }
        }
    }
}
