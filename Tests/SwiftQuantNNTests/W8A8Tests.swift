import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN
import Testing

/// The opt-in W8A8 path: activations quantized per row with the reference quantizer, int32 dot
/// products, one Float32 rescale per output. Integer sums are exact, so every variant and an
/// independent Swift computation of the same formula agree bit for bit.
@Suite struct W8A8Tests {
    static let shapes: [(outFeatures: Int, inFeatures: Int)] = [
        (1, 1), (1, 300), (300, 1), (7, 33), (13, 160), (6, 1000), (17, 515), (9, 64), (5, 129),
    ]

    @Test(arguments: [Granularity.perTensor, .perChannel])
    func everyVariantMatchesTheFormula(granularity: Granularity) throws {
        var random = TestValues(seed: 71)
        for (outFeatures, inFeatures) in Self.shapes {
            let weight = FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: random.array(outFeatures * inFeatures))
            let quantized = try quantizeSymmetric(weight, granularity: granularity)
            let bias = random.array(outFeatures)
            var layer = try QuantizedLinear(weight: quantized, bias: bias)
            layer.quantizesActivations = true
            for batch in [1, 3, 5, 32] {
                let input = FloatTensor(uncheckedShape: [batch, inFeatures], storage: random.array(batch * inFeatures, 3))
                let activations = try quantizeSymmetric(input, granularity: .perChannel)
                let (activationCodes, weightCodes) = (activations.int8Codes, quantized.int8Codes)
                var expected = [Float](repeating: 0, count: batch * outFeatures)
                for b in 0..<batch {
                    for o in 0..<outFeatures {
                        var dot = 0
                        for k in 0..<inFeatures {
                            dot += Int(activationCodes[b * inFeatures + k]) * Int(weightCodes[o * inFeatures + k])
                        }
                        var y = Float(Int32(dot)) * activations.scales[b]
                        y = y * (granularity == .perTensor ? quantized.scales[0] : quantized.scales[o])
                        expected[b * outFeatures + o] = y + bias[o]
                    }
                }
                for isa in KernelISA.runnable {
                    let result = try KernelISA.with(isa) { try layer(input) }
                    #expect(result.shape == [batch, outFeatures])
                    #expect(result.storage.map(\.bitPattern) == expected.map(\.bitPattern),
                            "\(isa) \(granularity) \(outFeatures)x\(inFeatures) batch \(batch)")
                }
            }
        }
    }

    /// Per-group activation scales: each group of `size` columns of a row quantized by the
    /// reference quantizer on its own, each group's int32 sum rescaled with one fused
    /// multiply-add in group order, then the weight scale and the bias.
    @Test(arguments: [4, 16, 32, 12])
    func groupedActivationsMatchTheFormula(size: Int) throws {
        var random = TestValues(seed: 89)
        for (outFeatures, inFeatures) in Self.shapes + [(40, 384), (3, 100)] {
            let weight = FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: random.array(outFeatures * inFeatures))
            let quantized = try quantizeSymmetric(weight, granularity: .perChannel)
            let bias = random.array(outFeatures)
            var layer = try QuantizedLinear(weight: quantized, bias: bias)
            layer.quantizesActivations = true
            layer.activationGroupSize = size
            let weightCodes = quantized.int8Codes
            for batch in [1, 7] {
                let input = FloatTensor(uncheckedShape: [batch, inFeatures], storage: random.array(batch * inFeatures, 3))
                var expected = [Float](repeating: 0, count: batch * outFeatures)
                let groups = (inFeatures + size - 1) / size
                for b in 0..<batch {
                    // A row narrower than a group is one group: the per-row product.
                    let parts = groups > 1 ? (0..<groups).map { g in g * size..<min(inFeatures, (g + 1) * size) } : [0..<inFeatures]
                    let codes = try parts.map { range in
                        try quantizeSymmetric(
                            FloatTensor(uncheckedShape: [1, range.count], storage: Array(input.storage[b * inFeatures + range.lowerBound..<b * inFeatures + range.upperBound])),
                            granularity: .perChannel)
                    }
                    for o in 0..<outFeatures {
                        var total: Float = 0
                        for (range, part) in zip(parts, codes) {
                            var dot = 0
                            for (index, k) in range.enumerated() {
                                dot += Int(part.int8Codes[index]) * Int(weightCodes[o * inFeatures + k])
                            }
                            if groups > 1 {
                                total = total.addingProduct(Float(Int32(dot)), part.scales[0])  // fused
                            } else {
                                total = Float(Int32(dot)) * part.scales[0]
                            }
                        }
                        expected[b * outFeatures + o] = total * quantized.scales[o] + bias[o]
                    }
                }
                for isa in KernelISA.runnable {
                    let result = try KernelISA.with(isa) { try layer(input) }
                    #expect(result.storage.map(\.bitPattern) == expected.map(\.bitPattern),
                            "\(isa) group \(size) \(outFeatures)x\(inFeatures) batch \(batch)")
                }
            }
        }
    }

    @Test func invalidActivationGroupSizesThrow() throws {
        var layer = try QuantizedLinear(weight: try quantizeSymmetric(
            FloatTensor(uncheckedShape: [2, 8], storage: (0..<16).map(Float.init)), granularity: .perChannel))
        layer.quantizesActivations = true
        for size in [0, -4, 6] {
            layer.activationGroupSize = size
            #expect(throws: LayerError.self) { try layer(FloatTensor(uncheckedShape: [1, 8], storage: [Float](repeating: 1, count: 8))) }
        }
    }

    @Test func closeToTheWeightOnlyProduct() throws {
        var random = TestValues(seed: 83)
        let weight = FloatTensor(uncheckedShape: [64, 512], storage: random.array(64 * 512))
        var layer = try QuantizedLinear(weight: try quantizeSymmetric(weight, granularity: .perChannel))
        let input = FloatTensor(uncheckedShape: [4, 512], storage: random.array(4 * 512))
        let weightOnly = try layer(input).storage
        layer.quantizesActivations = true
        let w8a8 = try layer(input).storage
        // Activation rounding adds at most half a step (max|x| / 254) per element: relative
        // error of the outputs well under 2 % on random data.
        var error = 0.0, norm = 0.0
        for (a, b) in zip(w8a8, weightOnly) {
            error += Double(a - b) * Double(a - b)
            norm += Double(b) * Double(b)
        }
        #expect((error / norm).squareRoot() < 0.02)
    }

    @Test func perGroupLayersKeepTheWeightOnlyPath() throws {
        var random = TestValues(seed: 97)
        let weight = FloatTensor(uncheckedShape: [8, 256], storage: random.array(8 * 256))
        var layer = try QuantizedLinear(weight: try quantizeSymmetric(weight, granularity: .perGroup(size: 128)))
        let input = FloatTensor(uncheckedShape: [2, 256], storage: random.array(2 * 256))
        let weightOnly = try layer(input)
        layer.quantizesActivations = true
        #expect(bitPatterns(try layer(input)) == bitPatterns(weightOnly))
    }

    /// Q, K and V on one shared quantized input, run in one parallel pass, give each layer's
    /// own product bit for bit, whatever the thread count.
    @Test(arguments: [nil, 12] as [Int?])
    func sharedActivationsMatchEachLayer(groupSize: Int?) throws {
        var random = TestValues(seed: 101)
        let inFeatures = 96
        let layers: [QuantizedLinear] = try [40, 17, 200].map { outFeatures in
            let weight = FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: random.array(outFeatures * inFeatures))
            var layer = try QuantizedLinear(weight: try quantizeSymmetric(weight, granularity: .perChannel), bias: random.array(outFeatures))
            layer.quantizesActivations = true
            layer.activationGroupSize = groupSize
            return layer
        }
        for batch in [1, 7, 64] {
            let input = FloatTensor(uncheckedShape: [batch, inFeatures], storage: random.array(batch * inFeatures, 3))
            let expected = try layers.map { try bitPatterns($0(input)) }
            for threads in [1, 3] {
                let shared = try #require(try Parallelism.withThreads(threads) {
                    try QuantizedLinear.forwardSharingActivations(input, layers: layers)
                })
                #expect(shared.map(\.shape) == layers.map { [batch, $0.outFeatures] })
                #expect(shared.map(bitPatterns) == expected, "batch \(batch) threads \(threads)")
            }
        }
    }

    /// GELU applied by the product's workers equals the product followed by `applyGELU`.
    @Test(arguments: [nil, 12] as [Int?])
    func fusedGELUMatchesTheSeparatePass(groupSize: Int?) throws {
        var random = TestValues(seed: 103)
        for (outFeatures, inFeatures) in [(200, 96), (17, 48), (1536, 384)] {
            let weight = FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: random.array(outFeatures * inFeatures))
            var layer = try QuantizedLinear(weight: try quantizeSymmetric(weight, granularity: .perChannel), bias: random.array(outFeatures))
            layer.quantizesActivations = true
            layer.activationGroupSize = groupSize
            for batch in [1, 7, 40] {
                let input = FloatTensor(uncheckedShape: [batch, inFeatures], storage: random.array(batch * inFeatures, 3))
                var expected = try layer(input)
                applyGELU(&expected.storage)
                for threads in [1, 3] {
                    let fused = try #require(try Parallelism.withThreads(threads) {
                        try QuantizedLinear.forwardApplyingGELU(input, layer: layer)
                    })
                    #expect(fused.shape == [batch, outFeatures])
                    #expect(bitPatterns(fused) == bitPatterns(expected), "\(outFeatures)x\(inFeatures) batch \(batch) threads \(threads)")
                }
            }
        }
        // Not W8A8: no fused path.
        let plain = try QuantizedLinear(weight: try quantizeSymmetric(
            FloatTensor(uncheckedShape: [2, 8], storage: (0..<16).map(Float.init)), granularity: .perChannel))
        #expect(try QuantizedLinear.forwardApplyingGELU(FloatTensor(uncheckedShape: [1, 8], storage: [Float](repeating: 1, count: 8)), layer: plain) == nil)
    }

    @Test func nonFiniteActivationsThrow() throws {
        var layer = try QuantizedLinear(weight: try quantizeSymmetric(
            FloatTensor(uncheckedShape: [2, 4], storage: [1, 2, 3, 4, 5, 6, 7, 8]), granularity: .perChannel))
        layer.quantizesActivations = true
        #expect(throws: LayerError.self) {
            try layer(FloatTensor(uncheckedShape: [1, 4], storage: [1, .nan, 0, 0]))
        }
    }
}
