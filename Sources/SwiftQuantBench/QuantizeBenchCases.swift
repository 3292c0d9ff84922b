import SwiftQuant

/// Symmetric INT8 quantization of a large weight, straight from its encoded bytes, as the
/// streaming converter runs it. The target is at least 0.25× memcpy for fp16 per channel.
extension BenchCase {
    /// An 8192 × 4096 weight: 64 MiB as fp16, far beyond the caches.
    static let weightShape = [8192, 4096]

    static let quantizeCases: [BenchCase] = [
        quantizeCase(.float16, .perChannel, name: "quantize-fp16-per-channel"),
        quantizeCase(.float16, .perGroup(size: 128), name: "quantize-fp16-per-group-128"),
        quantizeCase(.float16, .perTensor, name: "quantize-fp16-per-tensor"),
        quantizeCase(.bfloat16, .perChannel, name: "quantize-bf16-per-channel"),
        quantizeCase(.float32, .perChannel, name: "quantize-fp32-per-channel"),
        BenchCase(
            name: "error-metrics-fp16-per-channel",
            summary: "The four error metrics of an fp16 weight against its per-channel INT8 codes."
        ) { context in
            let (rows, columns) = (weightShape[0], weightShape[1])
            let count = rows * columns
            let input = encodedWeights(count: count, encoding: .float16)
            let values = OwnedBytes.benchBuffer(byteCount: count)
            let scales = OwnedBytes.benchBuffer(byteCount: 4 * rows)
            let encoded = UnsafeRawBufferPointer(input.bytes)
            try quantizeSymmetric(
                encoded: encoded, encoding: .float16, shape: weightShape, granularity: .perChannel,
                values: values.typed(Int8.self, count: count), scales: scales.typed(Float.self, count: rows))
            var snr: Float = 0
            var baselineSNR: Float = 0
            var result = BenchResult.comparedToMemcpy(
                context, input: input, inputBytes: 2 * count, shape: weightShape,
                baseline: {
                    baselineSNR = SwiftSIMDBaseline.quantizationError(
                        encoded: encoded, encoding: .float16,
                        values: UnsafeBufferPointer(values.typed(Int8.self, count: count)),
                        scales: UnsafeBufferPointer(scales.typed(Float.self, count: rows))).snrDecibels
                }
            ) {
                snr = quantizationError(
                    encoded: encoded, encoding: .float16,
                    values: UnsafeBufferPointer(values.typed(Int8.self, count: count)),
                    scales: UnsafeBufferPointer(scales.typed(Float.self, count: rows))).snrDecibels
            }
            result.fields.append(("snr_db", .number(Double(snr))))
            result.fields.append(("same_snr_bits_as_swift_simd", .text(snr.bitPattern == baselineSNR.bitPattern ? "yes" : "no")))
            return result
        },
        BenchCase(name: "absmax-fp16", summary: "max|w| of an fp16 weight, straight from its bytes.") { context in
            let count = weightShape[0] * weightShape[1]
            let input = encodedWeights(count: count, encoding: .float16)
            var maximum: Float = 0
            var result = BenchResult.comparedToMemcpy(
                context, input: input, inputBytes: 2 * count, shape: weightShape,
                baseline: { _ = SwiftSIMDBaseline.absmax(encoded: UnsafeRawBufferPointer(input.bytes), encoding: .float16) }
            ) {
                maximum = absmax(encoded: UnsafeRawBufferPointer(input.bytes), encoding: .float16)
            }
            result.fields.append(("absmax", .number(Double(maximum))))
            return result
        },
    ]

    /// Quantizes an encoded `weightShape` weight into preallocated values and scales.
    static func quantizeCase(_ encoding: FloatEncoding, _ granularity: Granularity, name: String) -> BenchCase {
        BenchCase(
            name: name,
            summary: "\(encodingName(encoding)) \(weightShape.map(String.init).joined(separator: "×")) weight → INT8 \(granularity), GB/s of input vs memcpy."
        ) { context in
            let count = weightShape[0] * weightShape[1]
            let input = encodedWeights(count: count, encoding: encoding)
            let values = OwnedBytes.benchBuffer(byteCount: count)
            let scaleTotal = scaleCount(shape: weightShape, granularity: granularity)
            let scales = OwnedBytes.benchBuffer(byteCount: 4 * scaleTotal)
            var failure: (any Error)?
            let result = BenchResult.comparedToMemcpy(
                context, input: input, inputBytes: count * encoding.byteWidth, shape: weightShape,
                extra: [("granularity", .text(granularity.description))],
                baseline: {
                    try? SwiftSIMDBaseline.quantizeSymmetric(
                        encoded: UnsafeRawBufferPointer(input.bytes), encoding: encoding, shape: weightShape,
                        granularity: granularity, values: values.typed(Int8.self, count: count),
                        scales: scales.typed(Float.self, count: scaleTotal))
                }
            ) {
                do {
                    try quantizeSymmetric(
                        encoded: UnsafeRawBufferPointer(input.bytes), encoding: encoding, shape: weightShape,
                        granularity: granularity, values: values.typed(Int8.self, count: count),
                        scales: scales.typed(Float.self, count: scaleTotal))
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            return result
        }
    }

    /// `count` weights encoded as `encoding`, in a buffer of exactly their size.
    static func encodedWeights(count: Int, encoding: FloatEncoding) -> OwnedBytes {
        let buffer = OwnedBytes.benchBuffer(byteCount: count * encoding.byteWidth)
        var weights = BenchWeights()
        switch encoding {
        case .float16:
            let output = buffer.typed(UInt16.self, count: count)
            for i in 0..<count { output[i] = Float16(weights.next()).bitPattern }
        case .bfloat16:
            let output = buffer.typed(UInt16.self, count: count)
            // Truncation is enough for benchmark data.
            for i in 0..<count { output[i] = UInt16(weights.next().bitPattern >> 16) }
        case .float32:
            let output = buffer.typed(Float.self, count: count)
            for i in 0..<count { output[i] = weights.next() }
        case .float64:
            let output = buffer.typed(Double.self, count: count)
            for i in 0..<count { output[i] = Double(weights.next()) }
        }
        return buffer
    }

    static func encodingName(_ encoding: FloatEncoding) -> String {
        switch encoding {
        case .float16: "fp16"
        case .bfloat16: "bf16"
        case .float32: "fp32"
        case .float64: "fp64"
        }
    }
}
