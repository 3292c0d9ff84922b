import SwiftQuantCore
/// Decodes little-endian `source` values of `encoding` into `destination` as Float32.
///
/// Exact for every representable value (Float16 and BFloat16 always are); Float64 rounds to
/// nearest even. Subnormals, ±0, ±inf and NaN keep their meaning. `source` need not be aligned.
/// SIMD on `Parallelism.threads` threads.
/// Precondition: `source.count == destination.count * encoding.byteWidth`.
public func decodeFloats(
    _ source: UnsafeRawBufferPointer, encoding: FloatEncoding,
    into destination: UnsafeMutableBufferPointer<Float>
) {
    precondition(source.count == destination.count * encoding.byteWidth)
    let count = destination.count
    guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
    switch encoding {
    case .float16: decode(Float16Lanes(base: input, count: count), into: output)
    case .bfloat16: decode(BFloat16Lanes(base: input, count: count), into: output)
    case .float32: UnsafeMutableRawPointer(output).copyMemory(from: input, byteCount: 4 * count)
    case .float64: decode(Float64Lanes(base: input, count: count), into: output)
    }
}

/// Decodes into a new array.
public func decodeFloats(_ source: UnsafeRawBufferPointer, encoding: FloatEncoding) -> [Float] {
    let count = source.count / encoding.byteWidth
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        decodeFloats(
            UnsafeRawBufferPointer(rebasing: source[0..<count * encoding.byteWidth]), encoding: encoding,
            into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
        initialized = count
    }
}

private func decode<Source: LaneSource>(_ source: Source, into output: UnsafeMutablePointer<Float>) {
    let count = source.count
    let result = UnsafeMutableRawPointer(output)
    parallelRanges(reductionChunkCount(count)) { chunks in
        var index = chunks.lowerBound * reductionChunk
        let end = min(count, chunks.upperBound * reductionChunk)
        while index + laneCount <= end {
            result.storeBytes(of: source.lanes(at: index), toByteOffset: 4 * index, as: FloatLanes.self)
            index += laneCount
        }
        while index < end {
            output[index] = source.value(at: index)
            index += 1
        }
    }
}
