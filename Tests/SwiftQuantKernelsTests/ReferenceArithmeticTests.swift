import Testing
import SwiftQuant

/// `.reference` arithmetic (each op rounded to the weight's dtype) against `.float32`.
@Suite struct ReferenceArithmeticTests {
    private func quantize(_ values: [Float], _ encoding: FloatEncoding, shape: [Int], _ arithmetic: Arithmetic,
                          _ granularity: Granularity = .perChannel) throws -> (values: [Int8], scales: [Float]) {
        let encoded = try TypedFloatTensor(dtype: encoding, shape: shape, values: values).encoded
        var codes = [Int8](repeating: 0, count: values.count)
        var scales = [Float](repeating: 0, count: scaleCount(shape: shape, granularity: granularity))
        try encoded.withUnsafeBytes { bytes in
            try codes.withUnsafeMutableBufferPointer { output in
                try scales.withUnsafeMutableBufferPointer { scaleOutput in
                    try quantizeSymmetric(encoded: bytes, encoding: encoding, shape: shape, granularity: granularity,
                                          arithmetic: arithmetic, values: output, scales: scaleOutput)
                }
            }
        }
        return (codes, scales)
    }

    /// max|w| = 2e-6 in Float16: 2e-6 / 127 ≈ 1.6e-8 is below half the smallest Float16
    /// subnormal (2⁻²⁴ ≈ 6e-8), so the reference's scale is 0 → 1 and every code rounds to 0.
    @Test func float16ScaleUnderflowZeroesTheRowLikeTheReference() throws {
        let row: [Float] = [2e-6, -1e-6, 5e-7, 0]
        let reference = try quantize(row, .float16, shape: [1, 4], .reference)
        #expect(reference.scales == [1] && reference.values == [0, 0, 0, 0])
        let float32 = try quantize(row, .float16, shape: [1, 4], .float32)
        #expect(float32.values[0] == 127)
    }

    /// On Float32 weights the reference computes in Float32: both arithmetics agree.
    @Test func float32InputIsTheSameInBothArithmetics() throws {
        var generator = SeededGenerator(seed: 3)
        let values = (0..<(9 * 40)).map { _ in Float.random(in: -2...2, using: &generator) }
        for granularity in [Granularity.perTensor, .perChannel, .perGroup(size: 8)] {
            #expect(try quantize(values, .float32, shape: [9, 40], .reference, granularity)
                    == quantize(values, .float32, shape: [9, 40], .float32, granularity))
        }
    }

    /// BFloat16 keeps 8 significant bits. 1/127 ≈ 0.0078740 lies between 128/16384 and
    /// 129/16384 and rounds to 129/16384. Then 0.4921875 (63/128) / scale = 62.5116…, which
    /// BFloat16 (spacing 0.25 there) rounds to 62.5, and half to even gives 62; in Float32
    /// arithmetic 0.4921875 × 127 = 62.5078… gives 63.
    @Test func bfloat16RoundsTheScaleAndTheQuotient() throws {
        let values: [Float] = [1, 0.5, 0.4921875, -1]
        let result = try quantize(values, .bfloat16, shape: [1, 4], .reference)
        #expect(result.scales == [129.0 / 16384])
        #expect(result.values == [127, 64, 62, -127])
        #expect(try quantize(values, .bfloat16, shape: [1, 4], .float32).values == [127, 64, 63, -127])
    }

    /// The example: per-row scales of a 3×4 weight dequantize with the reference's
    /// `dim=0` (rows) and are rejected with `dim=1` (4 columns ≠ 3 scales).
    @Test func dequantizeDimensionHasTheReferenceMeaning() throws {
        let weight = try FloatTensor(shape: [3, 4], storage: (0..<12).map { Float($0) - 5.5 })
        let (q, scales) = try quantizeWeightPerChannel(weight)
        let rows = try dequantize(q, scale: scales, dtype: .float32, dimension: 0)
        #expect(rows == (try dequantize(q, scale: scales, dtype: .float32)))
        #expect(rows.storage[4] == Float(q.storage[4]) * scales.storage[1])
        #expect(throws: KernelError.broadcastMismatch(shape: [3, 4], other: [1, 3])) {
            try dequantize(q, scale: scales, dimension: 1)
        }
    }
}
