import CSwiftQuantKernels
import Foundation
import Testing
@testable import SwiftQuantNN
import SwiftQuantCore
import SwiftQuantKernels

/// Deterministic pseudo-random values in [-1, 1) (a small LCG: these tests need no quality).
private func randomValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Double(state >> 11) / Double(1 << 53) * 2 - 1)
    }
}

@Suite struct DecoderBlockTests {
    @Test func rmsNormMatchesTheDefinition() throws {
        let width = 48
        let x = randomValues(3 * width, seed: 1)
        let gain = randomValues(width, seed: 2)
        let norm = RMSNorm(weight: gain, epsilon: 1e-5)
        let y = try norm(FloatTensor(shape: [3, width], storage: x))
        for row in 0..<3 {
            let slice = x[(row * width)..<((row + 1) * width)].map(Double.init)
            let rms = (slice.map { $0 * $0 }.reduce(0, +) / Double(width) + 1e-5).squareRoot()
            for i in 0..<width {
                let expected = Double(gain[i]) * slice[i] / rms
                #expect(abs(Double(y.storage[row * width + i]) - expected) <= 1e-5 * max(1, abs(expected)))
            }
        }
        #expect(throws: LayerError.self) { try norm(FloatTensor(shape: [2, 5], storage: randomValues(10, seed: 3))) }
    }

    @Test func rotaryIsIdentityAtZeroAndKeepsPairNorms() throws {
        let rotary = RotaryEmbedding(dimension: 16, base: 10000)
        let x = try FloatTensor(shape: [1, 32], storage: randomValues(32, seed: 4))
        #expect(try rotary(x, firstPosition: 0) == x)
        let moved = try rotary(x, firstPosition: 37)
        for head in 0..<2 {
            for i in 0..<8 {
                let a = head * 16 + i, b = a + 8
                let before = x.storage[a] * x.storage[a] + x.storage[b] * x.storage[b]
                let after = moved.storage[a] * moved.storage[a] + moved.storage[b] * moved.storage[b]
                #expect(abs(before - after) <= 1e-5 * max(1, before))
            }
        }
    }

    /// The property attention relies on: q·k after rotation depends only on the distance.
    @Test func rotaryScoresDependOnlyOnRelativePosition() throws {
        let rotary = RotaryEmbedding(dimension: 32, base: 10000, scaling: .linear(factor: 2))
        let q = try FloatTensor(shape: [1, 32], storage: randomValues(32, seed: 5))
        let k = try FloatTensor(shape: [1, 32], storage: randomValues(32, seed: 6))
        func score(_ m: Int, _ n: Int) throws -> Float {
            let a = try rotary(q, firstPosition: m), b = try rotary(k, firstPosition: n)
            return zip(a.storage, b.storage).map(*).reduce(0, +)
        }
        #expect(abs(try score(10, 3) - score(107, 100)) <= 1e-4)
        #expect(abs(try score(5, 5) - score(0, 0)) <= 1e-4)
    }

    /// GGUF's permuted q/k rows with interleaved pairs give the same scores as the original
    /// rows with rotate_half: the permutation llama.cpp's converter applies.
    @Test func interleavedLayoutMatchesHalvesOnPermutedRows() throws {
        let d = 16
        let q = randomValues(d, seed: 7), k = randomValues(d, seed: 8)
        func permuted(_ v: [Float]) -> [Float] { (0..<d).map { v[($0 % 2) * (d / 2) + $0 / 2] } }
        let halves = RotaryEmbedding(dimension: d, base: 10000, layout: .halves)
        let interleaved = RotaryEmbedding(dimension: d, base: 10000, layout: .interleaved)
        func score(_ r: RotaryEmbedding, _ q: [Float], _ k: [Float]) throws -> Float {
            let a = try r(FloatTensor(shape: [1, d], storage: q), firstPosition: 9)
            let b = try r(FloatTensor(shape: [1, d], storage: k), firstPosition: 4)
            return zip(a.storage, b.storage).map(*).reduce(0, +)
        }
        #expect(abs(try score(halves, q, k) - score(interleaved, permuted(q), permuted(k))) <= 1e-5)
    }

    private func attention(heads: Int, kvHeads: Int, d: Int, hidden: Int) throws -> GroupedQueryAttention {
        func dense(_ i: Int, _ o: Int, _ seed: UInt64) throws -> Linear {
            try Linear(weight: FloatTensor(shape: [o, i], storage: randomValues(o * i, seed: seed)), bias: randomValues(o, seed: seed + 100))
        }
        return try GroupedQueryAttention(
            query: try dense(hidden, heads * d, 10), key: try dense(hidden, kvHeads * d, 11),
            value: try dense(hidden, kvHeads * d, 12), output: try dense(heads * d, hidden, 13),
            heads: heads, kvHeads: kvHeads, headDimension: d, rotary: RotaryEmbedding(dimension: d, base: 10000))
    }

    @Test func groupedAttentionShapesAndChecks() throws {
        let block = try attention(heads: 8, kvHeads: 2, d: 8, hidden: 24)
        var cache = LayerKeyValueCache(kvHeads: 2, headDimension: 8, capacity: 2)
        let y = try block(FloatTensor(shape: [5, 24], storage: randomValues(120, seed: 14)), cache: &cache)
        #expect(y.shape == [5, 24])
        #expect(cache.count == 5)
        // A key projection that does not fit the kv head count is refused.
        let wrong = try Linear(weight: FloatTensor(shape: [24, 24], storage: randomValues(576, seed: 15)))
        #expect(throws: LayerError.self) {
            try GroupedQueryAttention(query: block.query, key: wrong, value: block.value, output: block.output,
                                      heads: 8, kvHeads: 2, headDimension: 8, rotary: block.rotary)
        }
    }

    /// The KV cache's contract: a prompt pass equals feeding the same tokens one at a time,
    /// and splitting the prompt anywhere (the cache grows past its capacity) changes nothing.
    @Test func promptPassEqualsTokenByTokenDecode() throws {
        let block = try attention(heads: 4, kvHeads: 2, d: 16, hidden: 32)
        let rows = 9
        let x = randomValues(rows * 32, seed: 16)
        var whole = LayerKeyValueCache(kvHeads: 2, headDimension: 16)
        let batched = try block(FloatTensor(shape: [rows, 32], storage: x), cache: &whole)
        var stepwise = LayerKeyValueCache(kvHeads: 2, headDimension: 16, capacity: 1)
        var steps: [Float] = []
        for row in 0..<rows {
            steps += try block(FloatTensor(shape: [1, 32], storage: Array(x[(row * 32)..<((row + 1) * 32)])), cache: &stepwise).storage
        }
        let scale = batched.storage.map(abs).max() ?? 1
        for (a, b) in zip(batched.storage, steps) { #expect(abs(a - b) <= 1e-5 * scale) }
        // The first row sees only itself: softmax over one key is exactly its value.
        var single = LayerKeyValueCache(kvHeads: 2, headDimension: 16)
        let first = try block(FloatTensor(shape: [1, 32], storage: Array(x[0..<32])), cache: &single)
        let v = try block.value.forward(FloatTensor(shape: [1, 32], storage: Array(x[0..<32]))).storage
        var expanded: [Float] = []
        for head in 0..<4 {
            let kvHead = head / 2
            expanded += v[(kvHead * 16)..<(kvHead * 16 + 16)]
        }
        let expected = try block.output.forward(FloatTensor(shape: [1, 64], storage: expanded))
        for (a, b) in zip(first.storage, expected.storage) {
            let tolerance: Float = 1e-5 * max(1, abs(b))
            #expect(abs(a - b) <= tolerance)
        }
    }
}

/// The decoder's attention and SwiGLU kernels (CSwiftQuantKernels) against Double
/// implementations of their formulas written here, and every instruction-set variant against
/// the scalar one bit for bit.
@Suite struct DecoderKernelTests {
    /// Identity projections, so the block's attention output is softmax(q·kᵀ/√d)·v of its input
    /// rows (after the rotation, applied here the same way before the reference).
    private func identityAttention(heads: Int, kvHeads: Int, d: Int) throws -> GroupedQueryAttention {
        func identity(_ n: Int, rows: Int) throws -> Linear {
            var w = [Float](repeating: 0, count: rows * n)
            for r in 0..<rows { w[r * n + r] = 1 }
            return try Linear(weight: FloatTensor(shape: [rows, n], storage: w))
        }
        let hidden = heads * d
        return try GroupedQueryAttention(
            query: try identity(hidden, rows: hidden), key: try identity(hidden, rows: kvHeads * d),
            value: try identity(hidden, rows: kvHeads * d), output: try identity(hidden, rows: hidden),
            heads: heads, kvHeads: kvHeads, headDimension: d, rotary: RotaryEmbedding(dimension: d, base: 10000))
    }

    @Test func causalGroupedAttentionMatchesTheFormula() throws {
        // d = 40: two whole 16-lane chunks and a tail of 8; 6 query heads share 2 kv heads.
        let heads = 6, kvHeads = 2, d = 40, hidden = heads * d
        let block = try identityAttention(heads: heads, kvHeads: kvHeads, d: d)
        let first = 11, second = 6
        let x = randomValues((first + second) * hidden, seed: 21).map { $0 * 3 }
        var cache = LayerKeyValueCache(kvHeads: kvHeads, headDimension: d, capacity: 4)
        _ = try block(FloatTensor(shape: [first, hidden], storage: Array(x[..<(first * hidden)])), cache: &cache)
        let y = try block(FloatTensor(shape: [second, hidden], storage: Array(x[(first * hidden)...])), cache: &cache)
        // Reference: rotate q and k of every row at its position, then attend causally in Double.
        let total = first + second
        var q = x, k = x
        block.rotary.apply(&q, rows: total, heads: heads, firstPosition: 0)
        block.rotary.apply(&k, rows: total, heads: heads, firstPosition: 0)
        var worst: Double = 0
        for row in 0..<second {
            let position = first + row
            for head in 0..<heads {
                let kvHead = head / (heads / kvHeads)
                // The kv heads are the first kvHeads × d columns of the identity projections.
                let scores = (0...position).map { j -> Double in
                    (0..<d).reduce(0.0) { $0 + Double(q[position * hidden + head * d + $1]) * Double(k[j * hidden + kvHead * d + $1]) }
                        / Double(d).squareRoot()
                }
                let top = scores.max()!
                let weights = scores.map { Foundation.exp($0 - top) }
                let sum = weights.reduce(0, +)
                for i in 0..<d {
                    let expected = zip(weights, 0...position).reduce(0.0) { $0 + $1.0 / sum * Double(x[$1.1 * hidden + kvHead * d + i]) }
                    worst = max(worst, abs(Double(y.storage[row * hidden + head * d + i]) - expected))
                }
            }
        }
        #expect(worst <= 1e-5, "max |Δ| \(worst)")
    }

    @Test func swiGLUMatchesTheFormula() throws {
        let n = 24, m = 37
        func dense(_ i: Int, _ o: Int, _ seed: UInt64) throws -> Linear {
            try Linear(weight: FloatTensor(shape: [o, i], storage: randomValues(o * i, seed: seed).map { $0 * 4 }))
        }
        let mlp = try SwiGLU(gate: try dense(n, m, 31), up: try dense(n, m, 32), down: try dense(m, n, 33))
        let x = try FloatTensor(shape: [3, n], storage: randomValues(3 * n, seed: 34).map { $0 * 4 })
        let y = try mlp(x)
        let g = try mlp.gate.forward(x).storage, u = try mlp.up.forward(x).storage
        let hidden = zip(g, u).map { Double($0) / (1 + Foundation.exp(-Double($0))) * Double($1) }
        let w = (mlp.down as! Linear).weight.storage
        var worst: Double = 0, scale: Double = 0
        for row in 0..<3 {
            for o in 0..<n {
                let expected = (0..<m).reduce(0.0) { $0 + hidden[row * m + $1] * Double(w[o * m + $1]) }
                worst = max(worst, abs(Double(y.storage[row * n + o]) - expected))
                scale = max(scale, abs(expected))
            }
        }
        #expect(worst <= 1e-5 * max(1, scale), "max |Δ| \(worst) of \(scale)")
    }

    @Test func everyVariantMatchesScalar() throws {
        let heads = 4, kvHeads = 2, d = 40, hidden = heads * d
        let block = try identityAttention(heads: heads, kvHeads: kvHeads, d: d)
        let x = randomValues(19 * hidden, seed: 41).map { $0 * 3 }
        let gates = randomValues(1000, seed: 42).map { $0 * 30 }, ups = randomValues(1000, seed: 43)
        func run() throws -> [[UInt32]] {
            var cache = LayerKeyValueCache(kvHeads: kvHeads, headDimension: d)
            let prompt = try block(FloatTensor(shape: [18, hidden], storage: Array(x[..<(18 * hidden)])), cache: &cache)
            let step = try block(FloatTensor(shape: [1, hidden], storage: Array(x[(18 * hidden)...])), cache: &cache)
            var g = gates
            g.withUnsafeMutableBufferPointer { gp in
                ups.withUnsafeBufferPointer { up in sqk_silu_mul(KernelISA.active.rawValue, gp.baseAddress, up.baseAddress, 0, 1000) }
            }
            return [prompt.storage, step.storage, g].map { $0.map(\.bitPattern) }
        }
        let scalar = try KernelISA.with(.scalar, run)
        for isa in KernelISA.runnable where isa != .scalar {
            #expect(try KernelISA.with(isa, run) == scalar, "variant \(isa)")
        }
    }
}
