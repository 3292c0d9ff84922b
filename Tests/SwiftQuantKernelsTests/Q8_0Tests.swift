import Testing
import SwiftQuant

/// ggml's `quantize_row_q8_0_ref`, transliterated line by line in plain scalar Swift
/// (`roundf` is `.toNearestOrAwayFromZero`, `GGML_FP32_TO_FP16` is `Float16(_:)`).
func referenceQuantizeQ8_0(_ x: [Float]) -> [UInt8] {
    var y: [UInt8] = []
    for block in 0..<x.count / 32 {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[block * 32 + j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        withUnsafeBytes(of: Float16(d).bitPattern.littleEndian) { y += $0 }
        for j in 0..<32 {
            let x0 = x[block * 32 + j] * id
            y.append(UInt8(bitPattern: Int8(x0.rounded(.toNearestOrAwayFromZero))))
        }
    }
    return y
}

private func quantize(_ x: [Float]) throws -> [UInt8] {
    var out = [UInt8](repeating: 0xAA, count: x.count / 32 * 34)
    try x.withUnsafeBufferPointer { input in
        try out.withUnsafeMutableBytes { try quantizeQ8_0(input, into: $0) }
    }
    return out
}

private func dequantize(_ q: [UInt8]) -> [Float] {
    var out = [Float](repeating: .nan, count: q.count / 34 * 32)
    q.withUnsafeBytes { input in out.withUnsafeMutableBufferPointer { dequantizeQ8_0(input, into: $0) } }
    return out
}

/// Deterministic pseudo-random floats (SplitMix64), so failures reproduce.
private func randomFloats(count: Int, seed: UInt64, scale: Float) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Float(z >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

@Suite struct Q8_0Tests {
    @Test(arguments: [Float(0.02), 1, 3e-5, 1e4, 1e-30])
    func matchesGGMLReference(scale: Float) throws {
        let x = randomFloats(count: 32 * 5000, seed: 7, scale: scale)
        #expect(try quantize(x) == referenceQuantizeQ8_0(x))
    }

    @Test func tiesRoundHalfAwayFromZero() throws {
        // amax 127 makes d = 1 and id = 1, so x × id lands exactly on the halves.
        var block: [Float] = [127]
        for k in 0..<31 { block.append(Float(k - 15) + 0.5) }
        let x = block + block.map { -$0 }
        let q = try quantize(x)
        #expect(q == referenceQuantizeQ8_0(x))
        // 0.5 → 1, −0.5 → −1, 2.5 → 3 (nearest-even would give 2).
        let quants = q[2..<34].map { Int8(bitPattern: $0) }
        #expect(quants[16] == 1)  // 0.5
        #expect(quants[15] == -1)  // −0.5
        #expect(quants[18] == 3)  // 2.5
        #expect(quants[13] == -3)  // −2.5
    }

    @Test func zeroBlockHasZeroScale() throws {
        let q = try quantize([Float](repeating: 0, count: 64) + [Float](repeating: -0.0, count: 32))
        #expect(q == [UInt8](repeating: 0, count: 34 * 3))
    }

    @Test func scaleIsRoundedToFloat16NearestEven() throws {
        // amax = 127 × (1 + 2^-11) puts d exactly halfway between two fp16 values.
        let d = Float(1) + Float(1) / 2048
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127 * d
        let q = try quantize(x)
        let stored = UInt16(q[0]) | UInt16(q[1]) << 8
        #expect(stored == Float16(1).bitPattern)  // ties to the even mantissa, 1.0
        #expect(q == referenceQuantizeQ8_0(x))
    }

    @Test func resultDoesNotDependOnThreadCount() throws {
        let x = randomFloats(count: 32 * 70_000, seed: 11, scale: 0.1)
        let one = try Parallelism.withThreads(1) { try quantize(x) }
        #expect(try Parallelism.withThreads(2) { try quantize(x) } == one)
    }

    @Test func firstNonFiniteWeightIsReported() {
        var x = randomFloats(count: 32 * 100_000, seed: 3, scale: 1)
        x[32 * 90_000 + 5] = .infinity
        x[32 * 50_000 + 9] = .nan
        #expect(throws: KernelError.self) { try quantize(x) }
        do {
            _ = try quantize(x)
        } catch let error as KernelError {
            guard case .nonFiniteValue(let index, _) = error else { Issue.record("\(error)"); return }
            #expect(index == 32 * 50_000 + 9)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func dequantizeIsQuantTimesScale() throws {
        let x = randomFloats(count: 32 * 300, seed: 5, scale: 2)
        let q = try quantize(x)
        let y = dequantize(q)
        for block in 0..<300 {
            let d = Float(Float16(bitPattern: UInt16(q[block * 34]) | UInt16(q[block * 34 + 1]) << 8))
            for j in 0..<32 {
                #expect(y[block * 32 + j] == Float(Int8(bitPattern: q[block * 34 + 2 + j])) * d)
            }
        }
        // The round trip is within half a step plus the fp16 rounding of d (2^-11 relative, times up to 127).
        for i in 0..<x.count {
            let block = i / 32
            let amax = x[block * 32..<block * 32 + 32].map(abs).max()!
            #expect(abs(y[i] - x[i]) <= amax / 127 * (0.5 + 127.0 / 2048) * 1.001)
        }
    }

    @Test func byteCount() {
        #expect(Q8_0.byteCount(elementCount: 64) == 68)
        #expect(Q8_0.byteCount(elementCount: 33) == nil)
        #expect(Q8_0.byteCount(elementCount: 0) == 0)
    }
}
