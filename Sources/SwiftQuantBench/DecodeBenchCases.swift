import SwiftQuant

/// Float decoding and INT8 dequantization: the paths `verify`, `export` and the loader take.
extension BenchCase {
    static let decodeCases: [BenchCase] = [
        decodeCase(.float16, name: "decode-fp16"),
        decodeCase(.bfloat16, name: "decode-bf16"),
        BenchCase(
            name: "dequantize-per-channel",
            summary: "INT8 per-channel codes → Float32, GB/s of INT8 input vs memcpy."
        ) { context in
            let (rows, columns) = (weightShape[0], weightShape[1])
            let count = rows * columns
            let values = OwnedBytes.benchBuffer(byteCount: count)
            let codes = values.typed(Int8.self, count: count)
            for i in 0..<count { codes[i] = Int8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
            let scales = OwnedBytes.benchBuffer(byteCount: 4 * rows)
            scales.typed(Float.self, count: rows).initialize(repeating: 0.01)
            let output = OwnedBytes.benchBuffer(byteCount: 4 * count)
            return BenchResult.comparedToMemcpy(context, input: values, inputBytes: count, shape: weightShape) {
                dequantize(
                    values: UnsafeBufferPointer(codes), scales: UnsafeBufferPointer(scales.typed(Float.self, count: rows)),
                    into: output.typed(Float.self, count: count))
            }
        },
    ]

    static func decodeCase(_ encoding: FloatEncoding, name: String) -> BenchCase {
        BenchCase(
            name: name,
            summary: "\(encodingName(encoding)) → Float32 of a \(weightShape.map(String.init).joined(separator: "×")) weight, GB/s of input vs memcpy."
        ) { context in
            let count = weightShape[0] * weightShape[1]
            let input = encodedWeights(count: count, encoding: encoding)
            let output = OwnedBytes.benchBuffer(byteCount: 4 * count)
            return BenchResult.comparedToMemcpy(
                context, input: input, inputBytes: count * encoding.byteWidth, shape: weightShape,
                baseline: {
                    SwiftSIMDBaseline.decodeFloats(
                        UnsafeRawBufferPointer(input.bytes), encoding: encoding, into: output.typed(Float.self, count: count))
                }
            ) {
                decodeFloats(UnsafeRawBufferPointer(input.bytes), encoding: encoding, into: output.typed(Float.self, count: count))
            }
        }
    }
}
