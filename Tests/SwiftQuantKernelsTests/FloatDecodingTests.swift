import Testing
import SwiftQuant

@Suite struct FloatDecodingTests {
    private func decode(_ raw: [UInt8], _ encoding: FloatEncoding, offset: Int = 0) -> [Float] {
        raw.withUnsafeBytes { decodeFloats(UnsafeRawBufferPointer(rebasing: $0[offset...]), encoding: encoding) }
    }

    /// Same value, or both NaN with the same sign.
    private func same(_ a: Float, _ b: Float) -> Bool {
        a.isNaN ? (b.isNaN && a.sign == b.sign) : a.bitPattern == b.bitPattern
    }

    @Test func float16HandPickedValues() {
        let patterns: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x8000, 0x0000, 0x3555, 0x8001]
        let expected: [Float] = [
            1, -2, 0x1p-24, 1023 * 0x1p-24, 0x1p-14, 65504, .infinity, -.infinity, -0.0, 0,
            0x1.554p-2, -0x1p-24,
        ]
        for offset in [0, 1] {
            let decoded = decode(bytes(of: patterns, offset: offset), .float16, offset: offset)
            #expect(decoded.count == expected.count)
            for (d, e) in zip(decoded, expected) { #expect(d.bitPattern == e.bitPattern, "\(d) vs \(e)") }
        }
        let nan = decode(bytes(of: [0x7E00, 0xFE01] as [UInt16]), .float16)
        #expect(nan[0].isNaN && nan[0].sign == .plus)
        #expect(nan[1].isNaN && nan[1].sign == .minus)
    }

    @Test func float16EveryBitPatternMatchesSwiftConversion() {
        let patterns = (0...UInt16.max).map { $0 }
        // 17 leading bytes misalign the input and make the SIMD loop leave a tail.
        let decoded = decode(bytes(of: patterns, offset: 17), .float16, offset: 17)
        var mismatches = 0
        for (pattern, value) in zip(patterns, decoded) where !same(value, Float(Float16(bitPattern: pattern))) {
            mismatches += 1
        }
        #expect(mismatches == 0)
    }

    @Test func bfloat16EveryBitPatternIsTheTopHalf() {
        let patterns = (0...UInt16.max).map { $0 }
        let decoded = decode(bytes(of: patterns, offset: 3), .bfloat16, offset: 3)
        #expect(zip(patterns, decoded).allSatisfy { same($1, Float(bitPattern: UInt32($0) << 16)) })
        // Hand-picked: 1, -2, smallest subnormal 2^-133, +inf, -inf, -0, NaN.
        let picked = decode(bytes(of: [0x3F80, 0xC000, 0x0001, 0x7F80, 0xFF80, 0x8000] as [UInt16]), .bfloat16)
        #expect(picked == [1, -2, 0x1p-133, .infinity, -.infinity, 0])
        #expect(picked[5].sign == .minus)
        #expect(decode(bytes(of: [0x7FC0] as [UInt16]), .bfloat16)[0].isNaN)
    }

    @Test func float64RoundsToNearestEven() {
        let inputs: [Double] = [
            1 + 0x1p-24,  // halfway between 1 and 1 + 2^-23 → even: 1
            1 + 3 * 0x1p-24,  // halfway between 1 + 2^-23 and 1 + 2^-22 → even: 1 + 2^-22
            1 + 0x1p-24 + 0x1p-40,  // just above halfway → up
            0x1p-150,  // halfway between 0 and the smallest subnormal → 0
            0x1.8p-149,  // halfway between 1 and 2 ulps → 2 ulps
            -0.0, 1e300, -1e300, .infinity, 0x1p-1074, 1.0 / 3.0, Double(Float.greatestFiniteMagnitude),
        ]
        let expected: [Float] = [
            1, 1 + 0x1p-22, 1 + 0x1p-23, 0, 0x1p-148, -0.0, .infinity, -.infinity, .infinity, 0,
            Float(1.0 / 3.0), .greatestFiniteMagnitude,
        ]
        let decoded = decode(bytes(of: inputs, offset: 5), .float64, offset: 5)
        for (d, e) in zip(decoded, expected) { #expect(d.bitPattern == e.bitPattern, "\(d) vs \(e)") }
        #expect(decode(bytes(of: [Double.nan] + inputs), .float64)[0].isNaN)
    }

    @Test func float64ManyValuesMatchSwiftConversion() {
        var generator = SeededGenerator(seed: 64)
        let inputs = (0..<1_003).map { _ in Double(bitPattern: generator.next()) }
        let decoded = decode(bytes(of: inputs), .float64)
        #expect(zip(inputs, decoded).allSatisfy { same($1, Float($0)) })
    }

    @Test func float32IsCopied() {
        let values: [Float] = [1, -0.0, .infinity, 0x1p-149, 3.25]
        let decoded = decode(bytes(of: values, offset: 2), .float32, offset: 2)
        #expect(zip(values, decoded).allSatisfy { $0.bitPattern == $1.bitPattern })
    }

    @Test func largeInputsDecodeTheSameOnAnyThreadCount() {
        var generator = SeededGenerator(seed: 16)
        let patterns = (0..<300_001).map { _ in UInt16(truncatingIfNeeded: generator.next()) }
        let raw = bytes(of: patterns)
        let reference = withKernelThreads(1) { decode(raw, .float16) }
        for threads in [2, 8] {
            let decoded = withKernelThreads(threads) { decode(raw, .float16) }
            #expect(zip(reference, decoded).allSatisfy { same($0, $1) })
        }
        #expect(zip(patterns, reference).allSatisfy { same($1, Float(Float16(bitPattern: $0))) })
    }

    @Test func emptyInput() {
        #expect(decode([], .float16).isEmpty)
        #expect(decode([], .float64).isEmpty)
    }
}
