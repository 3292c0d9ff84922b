import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN
import Testing

/// The model building blocks against straightforward Double implementations of their
/// textbook formulas, written here independently of the library's code.
@Suite struct BuildingBlockTests {
    @Test func layerNormMatchesTheFormula() throws {
        var values = TestValues(seed: 11)
        let size = 384, rows = 5
        let gamma = values.array(size, 2), beta = values.array(size, 0.5)
        let input = values.array(rows * size, 4).map { $0 + 3 }   // an offset mean, as residual streams have
        let norm = try LayerNorm(gamma: gamma, beta: beta, epsilon: 1e-12)
        let output = try norm.forward(FloatTensor(shape: [rows, size], storage: input))
        for r in 0..<rows {
            let row = input[r * size..<(r + 1) * size].map(Double.init)
            let mean = row.reduce(0, +) / Double(size)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(size)
            for j in 0..<size {
                let expected = (row[j] - mean) / (variance + 1e-12).squareRoot() * Double(gamma[j]) + Double(beta[j])
                #expect(abs(Double(output.storage[r * size + j]) - expected) < 1e-5)
            }
        }
    }

    @Test func layerNormRejectsMismatchedParameters() {
        #expect(throws: LayerError.biasCountMismatch(expected: 3, actual: 2)) {
            try LayerNorm(gamma: [1, 1, 1], beta: [0, 0], epsilon: 1e-5)
        }
        #expect(throws: LayerError.self) {
            try LayerNorm(gamma: [1, 1], beta: [0, 0], epsilon: 1e-5).forward(FloatTensor(shape: [2, 3], storage: .init(repeating: 0, count: 6)))
        }
    }

    @Test func geluIsXTimesTheNormalCDF() {
        // Φ(x) = (1 + erf(x / √2)) / 2, evaluated in Double.
        for x in stride(from: -6.0, through: 6.0, by: 0.37) {
            let expected = x * 0.5 * (1 + erf(x / 2.0.squareRoot()))
            #expect(abs(Double(gelu(Float(x))) - expected) < 2e-6 * max(1, abs(x)))
        }
        var values: [Float] = [-1, 0, 1]
        applyGELU(&values)
        #expect(values[1] == 0)
        #expect(abs(Double(values[2]) - 0.8413447460685429) < 1e-6)
    }

    @Test func softmaxRowsSumToOneAndMatchExp() {
        var values = TestValues(seed: 5)
        let rows = 3, columns = 130
        let input = values.array(rows * columns, 30)
        var output = input
        softmaxRows(&output, rows: rows, columns: columns)
        for r in 0..<rows {
            let row = input[r * columns..<(r + 1) * columns].map(Double.init)
            let maximum = row.max()!
            let total = row.map { exp($0 - maximum) }.reduce(0, +)
            for j in 0..<columns {
                #expect(abs(Double(output[r * columns + j]) - exp(row[j] - maximum) / total) < 1e-6)
            }
        }
        var huge: [Float] = [1e30, 1e30]
        softmaxRows(&huge, rows: 1, columns: 2)
        #expect(huge == [0.5, 0.5])
    }

    /// softmax(Q·Kᵀ/√d)·V for every head, in Double.
    static func referenceAttention(_ q: [Float], _ k: [Float], _ v: [Float], n: Int, h: Int, heads: Int) -> [Double] {
        let d = h / heads
        var out = [Double](repeating: 0, count: n * h)
        for head in 0..<heads {
            for t in 0..<n {
                var scores = (0..<n).map { s in
                    (0..<d).reduce(0.0) { $0 + Double(q[t * h + head * d + $1]) * Double(k[s * h + head * d + $1]) } / Double(d).squareRoot()
                }
                let maximum = scores.max()!
                scores = scores.map { exp($0 - maximum) }
                let total = scores.reduce(0, +)
                for j in 0..<d {
                    out[t * h + head * d + j] = (0..<n).reduce(0.0) { $0 + scores[$1] / total * Double(v[$1 * h + head * d + j]) }
                }
            }
        }
        return out
    }

    @Test(arguments: [1, 2, 7, 33, 122])
    func attentionMatchesTheFormula(tokens n: Int) throws {
        var values = TestValues(seed: UInt64(n))
        let h = 96, heads = 3
        let q = values.array(n * h, 2), k = values.array(n * h, 2), v = values.array(n * h)
        let expected = Self.referenceAttention(q, k, v, n: n, h: h, heads: heads)
        for threads in [1, 2] {
            let got = try Parallelism.withThreads(threads) {
                try scaledDotProductAttention(
                    query: FloatTensor(shape: [n, h], storage: q), key: FloatTensor(shape: [n, h], storage: k),
                    value: FloatTensor(shape: [n, h], storage: v), headCount: heads)
            }
            #expect(got.shape == [n, h])
            let worst = zip(got.storage, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-5)
        }
    }

    @Test func attentionBlockChecksItsShapes() throws {
        let square = try Linear(weight: FloatTensor(shape: [4, 4], storage: .init(repeating: 0.1, count: 16)))
        let wide = try Linear(weight: FloatTensor(shape: [8, 4], storage: .init(repeating: 0.1, count: 32)))
        #expect(throws: LayerError.weightShapeMismatch(expected: [4, 4], actual: [8, 4])) {
            try BidirectionalSelfAttention(query: square, key: wide, value: square, output: square, headCount: 2)
        }
        #expect(throws: LayerError.self) {
            try BidirectionalSelfAttention(query: square, key: square, value: square, output: square, headCount: 3)
        }
        let block = try BidirectionalSelfAttention(query: square, key: square, value: square, output: square, headCount: 2)
        #expect(try block.forward(FloatTensor(shape: [3, 4], storage: .init(repeating: 1, count: 12))).shape == [3, 4])
        #expect(throws: LayerError.self) {
            try block.forward(FloatTensor(shape: [3, 5], storage: .init(repeating: 1, count: 15)))
        }
    }

    /// A source holding a few named tensors in memory.
    struct MemorySource: TensorSource {
        var tensorsByName: [String: (shape: [Int], values: [Float])]
        var path: String { "memory.safetensors" }
        var formatName: String { "memory" }
        var metadata: [String: MetadataValue] { [:] }
        var tensors: [TensorInfo] {
            self.tensorsByName.keys.sorted().map { name in
                TensorInfo(name: name, dtype: .f32, shape: tensorsByName[name]!.shape, byteCount: tensorsByName[name]!.values.count * 4)
            }
        }
        func data(for name: String) throws -> TensorData {
            guard let info = info(for: name), let tensor = tensorsByName[name] else {
                throw TensorSourceError.noSuchTensor(path: path, name: name)
            }
            return tensor.values.withUnsafeBytes { TensorData(info: info, copying: $0) }
        }
        func floats(for name: String) throws -> [Float] {
            guard let tensor = tensorsByName[name] else { throw TensorSourceError.noSuchTensor(path: path, name: name) }
            return tensor.values
        }
    }

    @Test func loadsBlocksByNameWithShapeChecks() throws {
        let source = MemorySource(tensorsByName: [
            "norm.weight": ([3], [1, 2, 3]), "norm.bias": ([3], [0, 0, 1]), "bad.weight": ([2], [1, 1]), "bad.bias": ([2], [0, 0]),
        ])
        let norm = try source.layerNorm("norm", size: 3, epsilon: 1e-5)
        #expect(norm.gamma == [1, 2, 3] && norm.beta == [0, 0, 1])
        #expect(throws: LayerLoadingError.shapeMismatch(path: "memory.safetensors", tensor: "bad.weight", expected: [3], actual: [2])) {
            try source.layerNorm("bad", size: 3, epsilon: 1e-5)
        }
        #expect(throws: TensorSourceError.self) { try source.floats(for: "missing", shape: [1]) }
        let message = "\(LayerLoadingError.shapeMismatch(path: "m", tensor: "t", expected: [3], actual: [2]))"
        #expect(!message.contains("\n") && message.contains("[2]") && message.contains("[3]"))
    }
}

/// Every instruction-set variant of the block kernels gives the scalar variant's numbers bit
/// for bit (they perform the same unfused operations in the same order).
@Suite struct BlockKernelISATests {
    @Test func everyVariantMatchesScalar() throws {
        var values = TestValues(seed: 99)
        let n = 37, h = 64, heads = 2
        let q = values.array(n * h, 3), k = values.array(n * h, 3), v = values.array(n * h)
        let x = values.array(n * h, 8), residual = values.array(n * h, 2)
        let norm = try LayerNorm(gamma: values.array(h), beta: values.array(h), epsilon: 1e-12)
        func run() throws -> [[UInt32]] {
            var g = x
            applyGELU(&g)
            var s = x
            softmaxRows(&s, rows: n, columns: h)
            var l = x
            norm.apply(&l, rows: n, adding: residual)
            let a = try scaledDotProductAttention(
                query: FloatTensor(shape: [n, h], storage: q), key: FloatTensor(shape: [n, h], storage: k),
                value: FloatTensor(shape: [n, h], storage: v), headCount: heads)
            return [g, s, l, a.storage].map { $0.map(\.bitPattern) }
        }
        let scalar = try KernelISA.with(.scalar, run)
        for isa in KernelISA.runnable where isa != .scalar {
            #expect(try KernelISA.with(isa, run) == scalar, "variant \(isa)")
        }
    }

    /// Softmax rows of every width up to 40 and 122 (lane blocks plus tails), with ±0, -inf and
    /// NaN among the values: every variant gives the scalar kernel's bits.
    @Test func softmaxTailsMatchScalarInEveryVariant() {
        var values = TestValues(seed: 107)
        for columns in Array(1...40) + [122] {
            let rows = 4
            var input = values.array(rows * columns, 20)
            input[0] = -0.0
            if columns > 2 { input[columns - 1] = 0; input[columns + 1] = -.infinity }
            if columns > 3 { input[2 * columns + 2] = .nan }
            func run() -> [UInt32] {
                var s = input
                softmaxRows(&s, rows: rows, columns: columns)
                return s.map(\.bitPattern)
            }
            let scalar = KernelISA.with(.scalar, run)
            for isa in KernelISA.runnable where isa != .scalar {
                #expect(KernelISA.with(isa, run) == scalar, "variant \(isa) columns \(columns)")
            }
        }
    }
}
