import Testing
import SwiftQuant

@Suite("QuantizedLinear")
struct QuantizedLinearTests {
    static let granularities: [Granularity] = [
        .perTensor, .perChannel, .perGroup(size: 16), .perGroup(size: 32), .perGroup(size: 48),
        // Not a multiple of 16: the one-weight-at-a-time path.
        .perGroup(size: 8), .perGroup(size: 12),
    ]

    /// (outFeatures, inFeatures): odd sizes that leave row, batch and column tails.
    static let shapes: [(Int, Int)] = [(1, 1), (3, 5), (7, 33), (5, 48), (17, 96), (6, 144), (9, 240)]

    @Test("forward equals x · dequantize(W)ᵀ + b", arguments: granularities)
    func matchesDequantizedReference(granularity: Granularity) throws {
        for (outFeatures, inFeatures) in Self.shapes {
            let weight = randomTensor([outFeatures, inFeatures], seed: UInt64(outFeatures * 1000 + inFeatures), scale: 0.1)
            let bias = randomFloats(outFeatures, seed: 7)
            var layer = QuantizedLinear(inFeatures: inFeatures, outFeatures: outFeatures)
            try layer.quantizeWeights(weight, granularity: granularity)
            try layer.setBias(bias)
            let effective = effectiveGranularity(for: weight.shape, requested: granularity)
            #expect(layer.granularity == effective)
            let restored = dequantize(try #require(layer.quantizedWeight)).storage
            for batch in [1, 2, 3, 4, 5, 9] {
                let x = randomTensor([batch, inFeatures], seed: UInt64(batch), scale: 2)
                let y = try layer(x)
                #expect(y.shape == [batch, outFeatures])
                let reference = referenceProduct(
                    input: x.storage, batch: batch, weight: restored, outFeatures: outFeatures,
                    inFeatures: inFeatures, bias: bias)
                let error = worstRelativeError(y.storage, reference)
                #expect(error < 1e-5, "\(granularity) [\(outFeatures), \(inFeatures)] batch \(batch): \(error)")
            }
        }
    }

    @Test("Large products: several threads and several inner blocks", arguments: [Granularity.perChannel, .perGroup(size: 128)])
    func largeProduct(granularity: Granularity) throws {
        // 33 rows of 4096 inputs: the inner dimension is cut into blocks of 3968 (batch 33),
        // and the work is above the threading threshold.
        let (outFeatures, inFeatures, batch) = (21, 4096, 33)
        let weight = randomTensor([outFeatures, inFeatures], seed: 99, scale: 0.05)
        var layer = QuantizedLinear(inFeatures: inFeatures, outFeatures: outFeatures, bias: false)
        try layer.quantizeWeights(weight, granularity: granularity)
        let x = randomTensor([batch, inFeatures], seed: 5)
        let y = try layer(x)
        let reference = referenceProduct(
            input: x.storage, batch: batch, weight: dequantize(try #require(layer.quantizedWeight)).storage,
            outFeatures: outFeatures, inFeatures: inFeatures, bias: nil)
        #expect(worstRelativeError(y.storage, reference) < 1e-5)
    }

    @Test("Quantization follows the reference semantics bit for bit")
    func quantizationIsTheKernels() throws {
        let weight = randomTensor([12, 64], seed: 3)
        var layer = QuantizedLinear(inFeatures: 64, outFeatures: 12)
        try layer.quantizeWeights(weight)
        let expected = try quantizeSymmetric(weight, granularity: .perChannel)
        #expect(layer.weightValues == expected.int8Codes)
        #expect(layer.scales == expected.scales)
        #expect(layer.granularity == .perChannel)
    }

    @Test("Leading dimensions are kept: [2, 3, in] → [2, 3, out]; a vector maps to a vector")
    func batchShapes() throws {
        var layer = QuantizedLinear(inFeatures: 20, outFeatures: 6)
        try layer.quantizeWeights(randomTensor([6, 20], seed: 1))
        let x = randomTensor([2, 3, 20], seed: 2)
        let y = try layer(x)
        #expect(y.shape == [2, 3, 6])
        let flat = try layer(FloatTensor(shape: [6, 20], storage: x.storage))
        #expect(flat.storage == y.storage)
        let none = try layer(FloatTensor(shape: [0, 20], storage: []))
        #expect(none.shape == [0, 6] && none.storage.isEmpty)
        let vector = try layer(FloatTensor(shape: [20], storage: Array(x.storage[0..<20])))
        #expect(vector.shape == [6])
        #expect(vector.storage == Array(y.storage[0..<6]))
    }

    @Test("fromLinear quantizes the float layer's weight per channel and keeps its bias")
    func fromLinear() throws {
        let weight = randomTensor([10, 40], seed: 8)
        let bias = randomFloats(10, seed: 9)
        let float = try Linear(weight: weight, bias: bias)
        let quantized = try QuantizedLinear.fromLinear(float)
        #expect(quantized.inFeatures == 40 && quantized.outFeatures == 10)
        #expect(quantized.bias == bias)
        #expect(quantized.quantizedWeight == (try quantizeSymmetric(weight, granularity: .perChannel)))
        let grouped = try QuantizedLinear.fromLinear(float, granularity: .perGroup(size: 8))
        #expect(grouped.scales.count == 10 * 5)
        // The int8 layer stays close to the float one: per-channel error is below 1 % of the output scale.
        let x = randomTensor([4, 40], seed: 10)
        let exact = try float(x).storage, approximate = try quantized(x).storage
        let worst = zip(exact, approximate).map { abs($0 - $1) }.max()!
        #expect(worst < 0.01 * exact.map(abs).max()!)
    }

    @Test("Already quantized weights load as they are")
    func fromQuantizedTensor() throws {
        let weight = randomTensor([4, 32], seed: 12)
        let quantized = try quantizeSymmetric(weight, granularity: .perGroup(size: 16))
        let layer = try QuantizedLinear(weight: quantized, bias: [1, 2, 3, 4])
        #expect(layer.quantizedWeight == quantized)
        let y = try layer(FloatTensor(shape: [1, 32], storage: [Float](repeating: 0, count: 32)))
        #expect(y.storage == [1, 2, 3, 4])
    }

    @Test("forward before quantizeWeights throws notQuantized")
    func forwardBeforeQuantize() {
        let layer = QuantizedLinear(inFeatures: 8, outFeatures: 4)
        #expect(!layer.isQuantized)
        #expect(throws: LayerError.notQuantized(inFeatures: 8, outFeatures: 4)) {
            try layer(FloatTensor(shape: [1, 8], storage: [Float](repeating: 1, count: 8)))
        }
    }

    @Test("Shape mismatches throw instead of trapping")
    func shapeMismatches() throws {
        var layer = QuantizedLinear(inFeatures: 8, outFeatures: 4)
        #expect(throws: LayerError.weightShapeMismatch(expected: [4, 8], actual: [8, 4])) {
            try layer.quantizeWeights(randomTensor([8, 4], seed: 1))
        }
        #expect(throws: LayerError.weightShapeMismatch(expected: [4, 8], actual: [32])) {
            try layer.quantizeWeights(randomTensor([32], seed: 1))
        }
        try layer.quantizeWeights(randomTensor([4, 8], seed: 1))
        #expect(throws: LayerError.inputShapeMismatch(inFeatures: 8, actual: [2, 7])) {
            try layer(randomTensor([2, 7], seed: 2))
        }
        #expect(throws: LayerError.inputShapeMismatch(inFeatures: 8, actual: [])) {
            try layer(FloatTensor(shape: [], storage: [1]))
        }
        #expect(throws: LayerError.biasCountMismatch(expected: 4, actual: 3)) {
            try layer.setBias([1, 2, 3])
        }
        let quantized = try quantizeSymmetric(randomTensor([4, 8], seed: 3), granularity: .perChannel)
        // A weight whose scales do not fit cannot exist, so no layer can be built from one.
        #expect(throws: KernelError.self) {
            try QuantizedWeight(shape: [4, 8], scheme: quantized.scheme, int8Codes: quantized.int8Codes, scales: [1, 1, 1])
        }
        #expect(throws: LayerError.self) {
            try QuantizedLinear(weight: QuantizedWeight(
                shape: [2, 2, 2], scheme: .symmetricInt8(.perChannel), int8Codes: [Int8](repeating: 0, count: 8), scales: [1, 1]))
        }
    }

    @Test("Bad weights and sizes throw")
    func badWeights() {
        var layer = QuantizedLinear(inFeatures: 2, outFeatures: 2)
        #expect(throws: LayerError.quantization(.nonFiniteValue(index: 1, value: .infinity))) {
            try layer.quantizeWeights(FloatTensor(shape: [2, 2], storage: [0, .infinity, 1, 2]))
        }
        #expect(throws: LayerError.quantization(.invalidGroupSize(0))) {
            try layer.quantizeWeights(FloatTensor(shape: [2, 2], storage: [0, 1, 1, 2]), granularity: .perGroup(size: 0))
        }
        var empty = QuantizedLinear(inFeatures: 0, outFeatures: 2)
        #expect(throws: LayerError.invalidFeatureCount(inFeatures: 0, outFeatures: 2)) {
            try empty.quantizeWeights(FloatTensor(shape: [2, 0], storage: []))
        }
    }

    @Test("Every error is one line")
    func errorsAreOneLine() {
        let errors: [LayerError] = [
            .weightShapeMismatch(expected: [4, 8], actual: [8, 4]), .biasCountMismatch(expected: 4, actual: 3),
            .inputShapeMismatch(inFeatures: 8, actual: [2, 7]),
            .scaleCountMismatch(granularity: .perGroup(size: 32), expected: 8, actual: 3),
            .notQuantized(inFeatures: 8, outFeatures: 4), .invalidFeatureCount(inFeatures: 0, outFeatures: 1),
            .quantization(.invalidGroupSize(-1)),
        ]
        for error in errors {
            #expect(!error.description.contains("\n"))
            #expect(!error.description.isEmpty)
        }
    }
}

@Suite("Float16 activations")
struct Float16InputTests {
    @Test("Float16 input equals the Float32 forward of the widened values")
    func matchesWidened() throws {
        var layer = QuantizedLinear(inFeatures: 24, outFeatures: 5)
        try layer.quantizeWeights(randomTensor([5, 24], seed: 31))
        let halves = randomFloats(3 * 24, seed: 32).map { Float16($0) }
        let y = try layer.forward(float16: halves, shape: [3, 24])
        #expect(y == (try layer(FloatTensor(shape: [3, 24], storage: halves.map(Float.init)))))
        #expect(throws: LayerError.inputShapeMismatch(inFeatures: 24, actual: [3, 25])) {
            try layer.forward(float16: halves, shape: [3, 25])
        }
    }
}
