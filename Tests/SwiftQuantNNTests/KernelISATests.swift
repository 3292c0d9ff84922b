import CSwiftQuantKernels
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN
import Testing

/// Deterministic pseudo-random values in ±`amplitude` (xorshift), so failures reproduce.
struct TestValues {
    private var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next(_ amplitude: Float = 1) -> Float {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * amplitude
    }
    mutating func array(_ count: Int, _ amplitude: Float = 1) -> [Float] {
        (0..<count).map { _ in next(amplitude) }
    }
}

/// Same bits, so that NaN or signed-zero differences would show too.
func bitPatterns(_ tensor: FloatTensor) -> [UInt32] { tensor.storage.map(\.bitPattern) }

/// Every vector variant must give exactly the scalar variant's numbers: all variants perform the
/// same fused multiply-adds in the same order per output (16 lanes, one fixed summing tree), so
/// the comparison is bit for bit, with no tolerance.
@Suite struct KernelISATests {
    static let shapes: [(outFeatures: Int, inFeatures: Int)] = [
        (1, 1), (1, 300), (300, 1), (7, 33), (13, 160), (6, 1000), (17, 515),
    ]
    static let groupCases: [(outFeatures: Int, inFeatures: Int, group: Int)] = [
        (13, 128, 16), (9, 160, 32), (5, 320, 64), (7, 384, 128), (6, 120, 24), (6, 120, 40), (3, 56, 8),
        (11, 1024, 128), (4, 192, 48), (10, 2048, 32),
    ]
    static let batches = [1, 3, 5, 32]

    /// The variants to check: every one this CPU runs except the scalar reference itself.
    static var vectorVariants: [KernelISA] { KernelISA.runnable.filter { $0 != .scalar } }

    @Test func thisCPURunsAVariantBeyondScalar() {
        #if arch(x86_64) || arch(arm64)
        // Any x86-64 CPU from the last decade has AVX2; every arm64 CPU has NEON.
        #expect(KernelISA.cpuBest != .scalar)
        #endif
        #expect(KernelISA.runnable.first == .scalar)
        #expect(KernelISA.runnable.contains(KernelISA.active))
    }

    @Test(arguments: [false, true])
    func floatLinearMatchesScalar(withBias: Bool) throws {
        var random = TestValues(seed: 11)
        for (outFeatures, inFeatures) in Self.shapes {
            let weight = FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: random.array(outFeatures * inFeatures))
            let layer = try Linear(weight: weight, bias: withBias ? random.array(outFeatures) : nil)
            for batch in Self.batches {
                let input = FloatTensor(uncheckedShape: [batch, inFeatures], storage: random.array(batch * inFeatures, 3))
                let reference = try KernelISA.with(.scalar) { try layer(input) }
                try expectClose(reference, toDoubleProduct: layer.weight.storage, bias: layer.bias,
                                input: input, outFeatures: outFeatures, inFeatures: inFeatures)
                for isa in Self.vectorVariants {
                    let result = try KernelISA.with(isa) { try layer(input) }
                    #expect(bitPatterns(result) == bitPatterns(reference),
                            "\(isa) float \(outFeatures)x\(inFeatures) batch \(batch)")
                }
            }
        }
    }

    @Test(arguments: [Granularity.perTensor, .perChannel])
    func int8LinearMatchesScalar(granularity: Granularity) throws {
        var random = TestValues(seed: 23)
        for (outFeatures, inFeatures) in Self.shapes {
            try checkInt8(outFeatures: outFeatures, inFeatures: inFeatures, granularity: granularity, random: &random)
        }
    }

    @Test func int8LinearPerGroupMatchesScalar() throws {
        var random = TestValues(seed: 37)
        for (outFeatures, inFeatures, group) in Self.groupCases {
            try checkInt8(outFeatures: outFeatures, inFeatures: inFeatures, granularity: .perGroup(size: group),
                          random: &random)
        }
    }

    @Test func attentionProductMatchesScalar() throws {
        var random = TestValues(seed: 41)
        for (rows, columns, keys) in [(1, 32, 1), (10, 32, 10), (122, 32, 122), (5, 17, 3)] {
            let a = FloatTensor(uncheckedShape: [rows, columns], storage: random.array(rows * columns))
            let b = FloatTensor(uncheckedShape: [keys, columns], storage: random.array(keys * columns))
            let reference = try KernelISA.with(.scalar) { try multiplyTransposed(a, b) }
            for isa in Self.vectorVariants {
                let result = try KernelISA.with(isa) { try multiplyTransposed(a, b) }
                #expect(bitPatterns(result) == bitPatterns(reference), "\(isa) \(rows)x\(columns)·\(keys)ᵀ")
            }
        }
    }

    /// Threads own contiguous row ranges that start anywhere: computing rows in pieces must give
    /// the same numbers as one call over all rows, in every variant.
    @Test func rowSplitsDoNotChangeResults() {
        var random = TestValues(seed: 53)
        let (outFeatures, inFeatures, batch) = (23, 200, 6)
        let weights: [Int8] = (0..<outFeatures * inFeatures).map { _ in Int8(truncatingIfNeeded: Int(random.next(127))) }
        let scales = random.array(outFeatures * (inFeatures / 40), 0.01).map { abs($0) + 0.001 }
        let input = random.array(batch * inFeatures)
        func product(_ isa: KernelISA, splits: [Int]) -> [UInt32] {
            var output = [Float](repeating: .nan, count: batch * outFeatures)
            weights.withUnsafeBytes { w in
                scales.withUnsafeBufferPointer { s in
                    input.withUnsafeBufferPointer { x in
                        output.withUnsafeMutableBufferPointer { y in
                            var description = sqk_matmul(
                                weights: w.baseAddress, weight_kind: Int32(SQK_WEIGHTS_I8.rawValue),
                                scale_kind: Int32(SQK_SCALES_GROUP.rawValue), scales: s.baseAddress, tensor_scale: 1,
                                group_size: 40, input: x.baseAddress, output: y.baseAddress, bias: nil,
                                batch: batch, in_features: inFeatures, out_features: outFeatures)
                            for (start, end) in zip(splits, splits.dropFirst()) {
                                sqk_matmul_rows(isa.rawValue, &description, start, end)
                            }
                        }
                    }
                }
            }
            return output.map(\.bitPattern)
        }
        let reference = product(.scalar, splits: [0, outFeatures])
        #expect(!reference.contains(Float.nan.bitPattern))
        for isa in KernelISA.runnable {
            #expect(product(isa, splits: [0, 5, 6, 13, outFeatures]) == reference, "\(isa)")
            #expect(product(isa, splits: [0, outFeatures]) == reference, "\(isa)")
        }
    }

    @Test func theEnvironmentCanOnlyLowerTheVariant() {
        // A request for more than the CPU has falls back to the CPU's best, never above it.
        #expect(KernelISA.resolve(request: "avx512vnni", cpuBest: .avx2) == .avx2)
        #expect(KernelISA.resolve(request: "avx512", cpuBest: .avx2) == .avx2)
        #expect(KernelISA.resolve(request: "avx512vnni", cpuBest: .avx512) == .avx512)
        #expect(KernelISA.resolve(request: "avx2", cpuBest: .scalar) == .scalar)
        #expect(KernelISA.resolve(request: "neon", cpuBest: .avx512vnni) == .avx512vnni)
        #expect(KernelISA.resolve(request: "avx2", cpuBest: .neon) == .neon)
        // Lower requests are honoured; unknown or empty ones keep the CPU's best.
        #expect(KernelISA.resolve(request: "avx2", cpuBest: .avx512vnni) == .avx2)
        #expect(KernelISA.resolve(request: "scalar", cpuBest: .avx512vnni) == .scalar)
        #expect(KernelISA.resolve(request: "scalar", cpuBest: .neon) == .scalar)
        #expect(KernelISA.resolve(request: "sse9", cpuBest: .avx2) == .avx2)
        #expect(KernelISA.resolve(request: "", cpuBest: .avx2) == .avx2)
        #expect(KernelISA.resolve(request: nil, cpuBest: .avx512) == .avx512)
        // What this process runs is something this CPU runs.
        #expect(KernelISA.active.runs(onCPUWithBest: KernelISA.cpuBest))
        for isa in KernelISA.allCases where !isa.runs(onCPUWithBest: KernelISA.cpuBest) {
            #expect(KernelISA.with(isa) { KernelISA.active } == KernelISA.cpuBest)
        }
    }

    @Test func variantNamesRoundTrip() {
        for isa in KernelISA.allCases {
            #expect(KernelISA.resolve(request: isa.name, cpuBest: .avx512vnni) == (isa == .neon ? .avx512vnni : isa))
        }
        #expect(KernelISA.allCases.map(\.name) == ["scalar", "neon", "avx2", "avx512", "avx512vnni"])
    }

    private func checkInt8(outFeatures: Int, inFeatures: Int, granularity: Granularity, random: inout TestValues) throws {
        let weight = FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: random.array(outFeatures * inFeatures))
        let quantized = try quantizeSymmetric(weight, granularity: granularity)
        let layer = try QuantizedLinear(weight: quantized, bias: random.array(outFeatures))
        let dequantized = dequantize(quantized).storage
        for batch in Self.batches {
            let input = FloatTensor(uncheckedShape: [batch, inFeatures], storage: random.array(batch * inFeatures, 3))
            let reference = try KernelISA.with(.scalar) { try layer(input) }
            try expectClose(reference, toDoubleProduct: dequantized, bias: layer.bias,
                            input: input, outFeatures: outFeatures, inFeatures: inFeatures)
            for isa in Self.vectorVariants {
                let result = try KernelISA.with(isa) { try layer(input) }
                #expect(bitPatterns(result) == bitPatterns(reference),
                        "\(isa) \(granularity) \(outFeatures)x\(inFeatures) batch \(batch)")
            }
        }
    }

    /// The scalar reference itself against the product in Double of the (dequantized) weights:
    /// Float32 rounding only, bounded relative to the sum of absolute terms.
    private func expectClose(
        _ result: FloatTensor, toDoubleProduct weights: [Float], bias: [Float]?,
        input: FloatTensor, outFeatures: Int, inFeatures: Int
    ) throws {
        let batch = input.storage.count / inFeatures
        try #require(result.storage.count == batch * outFeatures)
        for b in 0..<batch {
            for o in 0..<outFeatures {
                var exact = Double(bias?[o] ?? 0), magnitude = abs(exact)
                for k in 0..<inFeatures {
                    let term = Double(weights[o * inFeatures + k]) * Double(input.storage[b * inFeatures + k])
                    exact += term
                    magnitude += abs(term)
                }
                let error = abs(Double(result.storage[b * outFeatures + o]) - exact)
                #expect(error <= 1e-5 * max(magnitude, 1e-30), "row \(o) batch \(b): \(error) vs \(magnitude)")
            }
        }
    }
}
