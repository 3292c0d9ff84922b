import SwiftQuant

/// ggml's Q8_0 (the GGUF writer's quantizer and the GGUF reader's dequantizer) on a large
/// Float32 weight, against a memcpy of the same bytes in the same run.
extension BenchCase {
    static let q8_0Cases: [BenchCase] = [
        BenchCase(
            name: "quantize-q8_0-fp32",
            summary: "fp32 \(weightShape.map(String.init).joined(separator: "×")) weight → Q8_0 (bit-exact with ggml), GB/s of input vs memcpy."
        ) { context in
            let count = weightShape[0] * weightShape[1]
            let input = encodedWeights(count: count, encoding: .float32)
            let blocks = OwnedBytes.benchBuffer(byteCount: count / Q8_0.blockLength * Q8_0.blockByteCount)
            let weights = UnsafeBufferPointer(input.typed(Float.self, count: count))
            var failure: (any Error)?
            let result = BenchResult.comparedToMemcpy(
                context, input: input, inputBytes: 4 * count, shape: weightShape,
                baseline: { try? SwiftSIMDBaseline.quantizeQ8_0(weights, into: blocks.mutableBytes) }
            ) {
                do {
                    try quantizeQ8_0(weights, into: blocks.mutableBytes)
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            return result
        },
        BenchCase(
            name: "dequantize-q8_0",
            summary: "Q8_0 blocks of a \(weightShape.map(String.init).joined(separator: "×")) weight → fp32, GB/s of input vs memcpy."
        ) { context in
            let count = weightShape[0] * weightShape[1]
            let weights = encodedWeights(count: count, encoding: .float32)
            let blockBytes = count / Q8_0.blockLength * Q8_0.blockByteCount
            let blocks = OwnedBytes.benchBuffer(byteCount: blockBytes)
            try quantizeQ8_0(UnsafeBufferPointer(weights.typed(Float.self, count: count)), into: blocks.mutableBytes)
            let output = weights.typed(Float.self, count: count)
            return BenchResult.comparedToMemcpy(context, input: blocks, inputBytes: blockBytes, shape: weightShape) {
                dequantizeQ8_0(UnsafeRawBufferPointer(blocks.bytes), into: output)
            }
        },
    ]
}
