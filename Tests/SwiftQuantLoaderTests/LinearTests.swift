import Testing
import SwiftQuant

@Suite("Linear and multiplyTransposed")
struct LinearTests {
    @Test("Linear.forward equals x · Wᵀ + b", arguments: [(1, 1), (3, 17), (16, 64), (33, 100), (8, 515)])
    func matchesReference(shape: (Int, Int)) throws {
        let (outFeatures, inFeatures) = shape
        let weight = randomTensor([outFeatures, inFeatures], seed: 4)
        let bias = randomFloats(outFeatures, seed: 5)
        let layer = try Linear(weight: weight, bias: bias)
        #expect(layer.weight == weight)
        for batch in [1, 4, 7] {
            let x = randomTensor([batch, inFeatures], seed: 6)
            let reference = referenceProduct(
                input: x.storage, batch: batch, weight: weight.storage, outFeatures: outFeatures,
                inFeatures: inFeatures, bias: bias)
            #expect(worstRelativeError(try layer(x).storage, reference) < 1e-5)
        }
    }

    @Test("A hand-computed product")
    func handComputed() throws {
        let layer = try Linear(weight: FloatTensor(shape: [2, 3], storage: [1, 0, 0, 0, 1, 1]), bias: [0.5, -0.5])
        let y = try layer(FloatTensor(shape: [2, 3], storage: [1, 2, 3, 4, 5, 6]))
        #expect(y.storage == [1.5, 4.5, 4.5, 10.5])
    }

    @Test("Bad shapes throw")
    func badShapes() throws {
        #expect(throws: LayerError.self) { try Linear(weight: FloatTensor(shape: [6], storage: [Float](repeating: 0, count: 6))) }
        #expect(throws: LayerError.biasCountMismatch(expected: 2, actual: 1)) {
            try Linear(weight: FloatTensor(shape: [2, 3], storage: [Float](repeating: 0, count: 6)), bias: [1])
        }
        let layer = try Linear(weight: FloatTensor(shape: [2, 3], storage: [Float](repeating: 0, count: 6)))
        #expect(throws: LayerError.inputShapeMismatch(inFeatures: 3, actual: [3, 2])) {
            try layer(FloatTensor(shape: [3, 2], storage: [Float](repeating: 0, count: 6)))
        }
    }

    @Test("multiplyTransposed(a, b) = a · bᵀ")
    func multiplyTransposedMatches() throws {
        let a = randomTensor([19, 40], seed: 1), b = randomTensor([23, 40], seed: 2)
        let product = try multiplyTransposed(a, b)
        #expect(product.shape == [19, 23])
        let reference = referenceProduct(input: a.storage, batch: 19, weight: b.storage, outFeatures: 23, inFeatures: 40, bias: nil)
        #expect(worstRelativeError(product.storage, reference) < 1e-5)
        #expect(throws: LayerError.self) { try multiplyTransposed(a, randomTensor([23, 41], seed: 3)) }
    }
}
