import Testing
import SwiftQuant

/// Hand-computed cases. Scales are chosen as 127 · 2^k where possible so that `w / scale`
/// is exact and the expected codes can be worked out on paper.
@Suite struct SymmetricQuantizationTests {
    private func quantize(_ shape: [Int], _ w: [Float], _ granularity: Granularity) throws -> QuantizedWeight {
        try quantizeSymmetric(FloatTensor(shape: shape, storage: w), granularity: granularity)
    }

    @Test func tiesRoundHalfToEven() throws {
        // max|w| = 254 → scale 2; w/scale = 2.5, -2.5, 3.5, -3.5, 0.5, -1.5, 127.
        let q = try quantize([7], [5, -5, 7, -7, 1, -3, 254], .perTensor)
        #expect(q.scales == [2])
        #expect(q.int8Codes == [2, -2, 4, -4, 0, -2, 127])
    }

    @Test func tiesAtScaleOne() throws {
        let q = try quantize([4], [2.5, -2.5, 3.5, 127], .perTensor)
        #expect(q.scales == [1])
        #expect(q.int8Codes == [2, -2, 4, 127])
    }

    @Test func allZeroTensorHasScaleOne() throws {
        for granularity in [Granularity.perTensor, .perChannel, .perGroup(size: 2)] {
            let q = try quantize([2, 4], [Float](repeating: 0, count: 8), granularity)
            #expect(q.int8Codes == [Int8](repeating: 0, count: 8))
            #expect(q.scales.allSatisfy { $0 == 1 })
        }
        // -0 is zero too.
        let negative = try quantize([3], [-0.0, 0, -0.0], .perTensor)
        #expect(negative.scales == [1] && negative.int8Codes == [0, 0, 0])
    }

    @Test func zeroRowGetsScaleOnePerChannel() throws {
        let q = try quantize([3, 3], [0, 0, 0, 1, 2, -127, 0, 0, 0], .perChannel)
        #expect(q.scales == [1, 1, 1])
        #expect(q.int8Codes == [0, 0, 0, 1, 2, -127, 0, 0, 0])
        let scaled = try quantize([2, 3], [0, 0, 0, 254, -5, 7], .perChannel)
        #expect(scaled.scales == [1, 2])
        #expect(scaled.int8Codes == [0, 0, 0, 127, -2, 4])
    }

    @Test func outlierCrushesSmallValues() throws {
        // scale = 1000/127 ≈ 7.874, so |w| < 3.937 rounds to 0.
        let q = try quantize([5], [1000, 1, -1, 3.9, -4], .perTensor)
        #expect(q.scales == [Float(1000) / 127])
        #expect(q.int8Codes == [127, 0, 0, 0, -1])
    }

    @Test func subnormalWeights() throws {
        let ulp = Float.leastNonzeroMagnitude  // 2^-149
        // 1 ulp / 127 rounds to 0 → scale 1 → every code 0.
        let tiny = try quantize([2], [ulp, -ulp], .perTensor)
        #expect(tiny.scales == [1] && tiny.int8Codes == [0, 0])
        // 190 ulp / 127 = 1.496 ulp rounds to 1 ulp, so w/scale = ±190 and the clamp decides.
        let clamped = try quantize([3], [190 * ulp, -190 * ulp, 63 * ulp], .perTensor)
        #expect(clamped.scales == [ulp])
        #expect(clamped.int8Codes == [127, -128, 63])
        // A normal scale over subnormal weights.
        let mixed = try quantize([2], [Float.leastNormalMagnitude * 127, ulp], .perTensor)
        #expect(mixed.scales == [Float.leastNormalMagnitude])
        #expect(mixed.int8Codes == [127, 0])
    }

    @Test func perGroupScalesEachRun() throws {
        // Group 1: max 127 → scale 1. Group 2: max 254 → scale 2: 254, -1.5, 2.5, 3.5.
        let q = try quantize([1, 8], [1, 2, -3, 127, 254, -3, 5, 7], .perGroup(size: 4))
        #expect(q.granularity == .perGroup(size: 4))
        #expect(q.scales == [1, 2])
        #expect(q.int8Codes == [1, 2, -3, 127, 127, -2, 2, 4])
    }

    @Test func perGroupFallsBackToPerChannel() throws {
        #expect(effectiveGranularity(for: [2, 6], requested: .perGroup(size: 4)) == .perChannel)
        #expect(effectiveGranularity(for: [2, 8], requested: .perGroup(size: 4)) == .perGroup(size: 4))
        #expect(effectiveGranularity(for: [2, 8], requested: .perGroup(size: 0)) == .perChannel)
        #expect(scaleCount(shape: [2, 6], granularity: .perGroup(size: 4)) == 2)
        let q = try quantize([2, 6], [127, 1, 2, 3, 4, 5, 254, 1, 3, 5, 7, 9], .perGroup(size: 4))
        #expect(q.granularity == .perChannel)
        #expect(q.scales == [1, 2])
        #expect(q.int8Codes == [127, 1, 2, 3, 4, 5, 127, 0, 2, 2, 4, 4])
    }

    @Test func perTensorUsesOneScale() throws {
        let q = try quantize([2, 2], [254, 1, -3, 5], .perTensor)
        #expect(q.scales == [2])
        #expect(q.int8Codes == [127, 0, -2, 2])
    }

    @Test func nDimensionalWeightIsRowsByRest() throws {
        // [2, 2, 2] per channel = [2, 4]: rows (1, 2, 3, 127) and (254, 5, -7, 0).
        let q = try quantize([2, 2, 2], [1, 2, 3, 127, 254, 5, -7, 0], .perChannel)
        #expect(q.scales == [1, 2])
        #expect(q.int8Codes == [1, 2, 3, 127, 127, 2, -4, 0])
        #expect(scaleCount(shape: [2, 2, 2], granularity: .perGroup(size: 2)) == 4)
        let grouped = try quantize([2, 2, 2], [1, 127, 3, 254, 254, 5, -7, 127], .perGroup(size: 2))
        #expect(grouped.scales == [1, 2, 2, 1])
        #expect(grouped.int8Codes == [1, 127, 2, 127, 127, 2, -7, 127])
    }

    @Test func scalarsAndOneDimensionalTensors() throws {
        let scalar = try quantize([], [-254], .perChannel)
        #expect(scalar.scales == [2] && scalar.int8Codes == [-127])
        let vector = try quantize([3], [127, -1, 0], .perChannel)
        #expect(vector.scales == [1] && vector.int8Codes == [127, -1, 0])
    }

    @Test func emptyTensors() throws {
        let empty = try quantize([0, 4], [], .perChannel)
        #expect(empty.int8Codes.isEmpty && empty.scales.isEmpty)
        let perTensor = try quantize([0], [], .perTensor)
        #expect(perTensor.int8Codes.isEmpty && perTensor.scales == [1])
        let emptyRows = try quantize([2, 0], [], .perChannel)
        #expect(emptyRows.scales == [1, 1])
    }

    @Test func nonFiniteWeightsNameTheFirstIndex() throws {
        let w: [Float] = [1, 2, 3, 4, 5, .nan, 7, 8, 9, .infinity, 1, 2]
        for granularity in [Granularity.perTensor, .perChannel, .perGroup(size: 2)] {
            do {
                _ = try quantize([3, 4], w, granularity)
                Issue.record("expected an error for \(granularity)")
            } catch let error as KernelError {
                guard case .nonFiniteValue(let index, let value) = error else {
                    Issue.record("unexpected \(error)")
                    continue
                }
                #expect(index == 5)
                #expect(value.isNaN)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        // Later rows are processed in parallel; the lowest index must still win.
        var many = [Float](repeating: 1, count: 70_000)
        many[60_000] = -.infinity
        many[40_001] = .infinity
        for threads in [1, 2, 8] {
            withKernelThreads(threads) {
                #expect(throws: KernelError.nonFiniteValue(index: 40_001, value: .infinity)) {
                    _ = try quantize([70, 1000], many, .perChannel)
                }
                #expect(throws: KernelError.nonFiniteValue(index: 40_001, value: .infinity)) {
                    _ = try quantize([70_000], many, .perTensor)
                }
            }
        }
        #expect([1, 2, -.infinity, .nan].withUnsafeBufferPointer { firstNonFinite($0) } == 2)
    }

    @Test func errorMessageNamesIndexAndValue() {
        let message = KernelError.nonFiniteValue(index: 7, value: .infinity).description
        #expect(message.contains("7") && message.contains("inf"))
        #expect(!message.contains("\n"))
    }

    @Test func invalidGroupSizeThrowsFromBufferAPI() {
        let input: [Float] = [1, 2, 3, 4]
        var values = [Int8](repeating: 0, count: 4)
        var scales = [Float](repeating: 0, count: 1)
        #expect(throws: KernelError.invalidGroupSize(0)) {
            try input.withUnsafeBufferPointer { input in
                try values.withUnsafeMutableBufferPointer { values in
                    try scales.withUnsafeMutableBufferPointer { scales in
                        try quantizeSymmetric(input, shape: [1, 4], granularity: .perGroup(size: 0), values: values, scales: scales)
                    }
                }
            }
        }
    }

    @Test func encodedFloat16InputQuantizesLikeItsFloats() throws {
        // fp16: 1.0, -2.5 (0xC100), 127 (0x57F0), 254 (0x5BF0), subnormal 2^-24, -0.
        let patterns: [UInt16] = [0x3C00, 0xC100, 0x57F0, 0x5BF0, 0x0001, 0x8000]
        for offset in [0, 1] {
            let raw = bytes(of: patterns, offset: offset)
            var values = [Int8](repeating: 0, count: 6)
            var scales = [Float](repeating: 0, count: 2)
            try raw.withUnsafeBytes { raw in
                try values.withUnsafeMutableBufferPointer { values in
                    try scales.withUnsafeMutableBufferPointer { scales in
                        try quantizeSymmetric(
                            encoded: UnsafeRawBufferPointer(rebasing: raw[offset...]), encoding: .float16,
                            shape: [2, 3], granularity: .perChannel, values: values, scales: scales)
                    }
                }
            }
            // Row 1: max 127 → scale 1: 1, -2.5 → -2, 127. Row 2: max 254 → scale 2: 127, 0, 0.
            #expect(scales == [1, 2])
            #expect(values == [1, -2, 127, 127, 0, 0])
        }
    }

    @Test func encodedNonFiniteValuesAreReported() {
        // bf16 +inf at index 2; fp16 NaN at index 1.
        let cases: [(FloatEncoding, [UInt16], Int)] = [
            (.bfloat16, [0x3F80, 0x4000, 0x7F80, 0x3F80], 2),
            (.float16, [0x3C00, 0x7E00, 0x7C00, 0x3C00], 1),
        ]
        for (encoding, patterns, expected) in cases {
            let raw = bytes(of: patterns)
            var values = [Int8](repeating: 0, count: 4)
            var scales = [Float](repeating: 0, count: 1)
            do {
                try raw.withUnsafeBytes { raw in
                    try values.withUnsafeMutableBufferPointer { values in
                        try scales.withUnsafeMutableBufferPointer { scales in
                            try quantizeSymmetric(
                                encoded: raw, encoding: encoding, shape: [4], granularity: .perTensor,
                                values: values, scales: scales)
                        }
                    }
                }
                Issue.record("expected an error for \(encoding)")
            } catch let error as KernelError {
                guard case .nonFiniteValue(let index, let value) = error else {
                    Issue.record("unexpected \(error)")
                    continue
                }
                #expect(index == expected)
                #expect(!value.isFinite)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func float64BeyondFloat32RangeIsInfinite() {
        let raw = bytes(of: [1.0, 1e300, -2.0] as [Double])
        var values = [Int8](repeating: 0, count: 3)
        var scales = [Float](repeating: 0, count: 1)
        #expect(throws: KernelError.nonFiniteValue(index: 1, value: .infinity)) {
            try raw.withUnsafeBytes { raw in
                try values.withUnsafeMutableBufferPointer { values in
                    try scales.withUnsafeMutableBufferPointer { scales in
                        try quantizeSymmetric(
                            encoded: raw, encoding: .float64, shape: [3], granularity: .perTensor,
                            values: values, scales: scales)
                    }
                }
            }
        }
    }

    @Test func absmaxFindsLargestMagnitudeAndPropagatesNonFinite() {
        #expect([1, -7.5, 3].withUnsafeBufferPointer { absmax($0) } == 7.5)
        #expect(absmax(([] as [Float]).withUnsafeBufferPointer { $0 }) == 0)
        #expect([1, .infinity, -3].withUnsafeBufferPointer { absmax($0) } == .infinity)
        #expect([1, -.infinity, .nan].withUnsafeBufferPointer { absmax($0) }.isNaN)
        var long = [Float](repeating: 0.25, count: 200_003)
        long[199_999] = -9
        #expect(long.withUnsafeBufferPointer { absmax($0) } == 9)
        // fp16 0xD8F0 = -158; bf16 0xC31E = -158.
        let half = bytes(of: [0x3C00, 0xD8F0, 0x0001] as [UInt16])
        #expect(half.withUnsafeBytes { absmax(encoded: $0, encoding: .float16) } == 158)
        let brain = bytes(of: [0x3F80, 0xC31E, 0x7FC0] as [UInt16])
        #expect(brain.withUnsafeBytes { absmax(encoded: $0, encoding: .bfloat16) }.isNaN)
        let double = bytes(of: [1.5, -2.25] as [Double])
        #expect(double.withUnsafeBytes { absmax(encoded: $0, encoding: .float64) } == 2.25)
    }
}
