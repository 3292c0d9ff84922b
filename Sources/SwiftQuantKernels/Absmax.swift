import SwiftQuantCore
/// The largest magnitude, max |w|, of `values`.
///
/// Returns NaN when any value is NaN, otherwise +inf when any value is infinite, and 0 for
/// an empty buffer. Runs on `Parallelism.threads` threads; the result does not depend on it.
public func absmax(_ values: UnsafeBufferPointer<Float>) -> Float {
    kernelAbsmax(EncodedValues(base: rawBase(UnsafeRawBufferPointer(values)), encoding: .float32, count: values.count))
}

/// max |w| of little-endian `encoded` values of `encoding`, decoded to Float32 first.
///
/// Same NaN/inf rules as ``absmax(_:)``. Precondition: `encoded.count` is a multiple of
/// `encoding.byteWidth`.
public func absmax(encoded: UnsafeRawBufferPointer, encoding: FloatEncoding) -> Float {
    precondition(encoded.count % encoding.byteWidth == 0, "byte count is not a multiple of the value width")
    return kernelAbsmax(EncodedValues(base: rawBase(encoded), encoding: encoding, count: encoded.count / encoding.byteWidth))
}

/// Values per piece of work in whole-tensor reductions. Fixed, so that chunk boundaries,
/// and with them every floating-point reduction order, never depend on the thread count.
let reductionChunk = 1 << 16

/// The number of `reductionChunk` pieces covering `count` values.
@inline(__always)
func reductionChunkCount(_ count: Int) -> Int {
    (count + reductionChunk - 1) / reductionChunk
}

/// The values of reduction chunk `chunk`.
@inline(__always)
func reductionChunkRange(_ chunk: Int, count: Int) -> Range<Int> {
    chunk * reductionChunk..<min(count, (chunk + 1) * reductionChunk)
}

/// max |w| over the whole source, chunk maxima computed in parallel.
///
/// Combining magnitudes by their bit patterns makes the result exact and order-free, with
/// NaN winning over inf over every finite value.
func parallelAbsmax<Source: LaneSource>(_ source: Source) -> Float {
    let chunks = reductionChunkCount(source.count)
    guard chunks > 1 else { return source.absmax(0..<source.count) }
    var partial = [UInt32](repeating: 0, count: chunks)
    partial.withUnsafeMutableBufferPointer { partial in
        parallelRanges(chunks) { range in
            for chunk in range {
                partial[chunk] = source.absmax(reductionChunkRange(chunk, count: source.count)).bitPattern & 0x7fff_ffff
            }
        }
    }
    return Float(bitPattern: partial.max() ?? 0)
}
