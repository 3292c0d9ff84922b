import SwiftQuantCore
/// Dequantizes caller-owned buffers: `output[i] = Float(values[i]) × scale of i's block`.
///
/// Blocks are `values.count / scales.count` consecutive values, which is the layout
/// ``quantizeSymmetric(_:shape:granularity:values:scales:)`` writes for every granularity.
/// Preconditions: `output.count == values.count`, and `scales.count` divides `values.count`
/// (an empty tensor may have any number of scales).
public func dequantize(
    values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>,
    into output: UnsafeMutableBufferPointer<Float>
) {
    precondition(output.count == values.count, "output buffer does not match the value count")
    dequantizeBlocks(values, scales: scales, into: output)
}

private func dequantizeBlocks(
    _ values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>,
    into output: UnsafeMutableBufferPointer<Float>
) {
    let count = values.count
    guard count > 0, let input = values.baseAddress, let result = output.baseAddress else { return }
    precondition(!scales.isEmpty && count % scales.count == 0, "scales do not divide the values into equal blocks")
    let blockLength = count / scales.count
    if scales.count == 1 {
        let scale = scales[0]
        parallelRanges(reductionChunkCount(count)) { chunks in
            let range = chunks.lowerBound * reductionChunk..<min(count, chunks.upperBound * reductionChunk)
            dequantizeRun(input, range, scale: scale, into: result)
        }
        return
    }
    parallelRanges(scales.count, minimumChunk: max(1, minimumValuesPerTask / blockLength)) { blocks in
        for block in blocks {
            dequantizeRun(input, block * blockLength..<(block + 1) * blockLength, scale: scales[block], into: result)
        }
    }
}

@inline(__always)
func dequantizeRun(
    _ values: UnsafePointer<Int8>, _ range: Range<Int>, scale: Float, into output: UnsafeMutablePointer<Float>
) {
    let scaleLanes = FloatLanes(repeating: scale)
    let input = UnsafeRawPointer(values)
    let result = UnsafeMutableRawPointer(output)
    var index = range.lowerBound
    while index + laneCount <= range.upperBound {
        let lanes = floatLanes(input.loadUnaligned(fromByteOffset: index, as: SIMD16<Int8>.self)) * scaleLanes
        result.storeBytes(of: lanes, toByteOffset: 4 * index, as: FloatLanes.self)
        index += laneCount
    }
    while index < range.upperBound {
        output[index] = Float(values[index]) * scale
        index += 1
    }
}
