#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftQuantCore
import SwiftQuantNN

/// A seeded pseudo-random generator (SplitMix64): the same seed gives the same samples on
/// every machine and Swift version, which `SystemRandomNumberGenerator` does not.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1), from the top 53 bits.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// How the next token is chosen from the logits.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 is greedy (the arg-max); otherwise logits are divided by it before the softmax.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens (0: all).
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP` (1: all).
    public var topP: Float
    /// The seed of the ``SeededGenerator``.
    public var seed: UInt64

    /// Greedy decoding by default.
    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    func validate() throws(LlamaError) {
        guard temperature >= 0, temperature.isFinite else { throw .invalidParameter(name: "temperature", reason: "must be 0 (greedy) or positive, got \(temperature)") }
        guard topK >= 0 else { throw .invalidParameter(name: "top-k", reason: "must be 0 (off) or positive, got \(topK)") }
        guard topP > 0, topP <= 1 else { throw .invalidParameter(name: "top-p", reason: "must be in (0, 1], got \(topP)") }
    }
}

/// Picks tokens from logits: greedy, or temperature with top-k/top-p, reproducibly from a seed.
public struct TokenSampler: Sendable {
    public let parameters: SamplingParameters
    private var generator: SeededGenerator

    /// - Throws: ``LlamaError/invalidParameter(name:reason:)`` for a parameter out of range.
    public init(_ parameters: SamplingParameters) throws(LlamaError) {
        try parameters.validate()
        self.parameters = parameters
        generator = SeededGenerator(seed: parameters.seed)
    }

    /// The next token for one row of logits.
    public mutating func sample(_ logits: ArraySlice<Float>) -> Int32 {
        let base = logits.startIndex
        // Greedy: the first maximum, as torch.argmax.
        if parameters.temperature == 0 || parameters.topK == 1 {
            var best = base
            for i in logits.indices where logits[i] > logits[best] { best = i }
            return Int32(best - base)
        }
        var order = Array(0..<logits.count)
        order.sort { logits[base + $0] > logits[base + $1] || (logits[base + $0] == logits[base + $1] && $0 < $1) }
        if parameters.topK > 0, parameters.topK < order.count { order.removeSubrange(parameters.topK...) }
        let maximum = Double(logits[base + order[0]])
        var probabilities = order.map { exp((Double(logits[base + $0]) - maximum) / Double(parameters.temperature)) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        if parameters.topP < 1 {
            var cumulative = 0.0
            var keep = 0
            while keep < probabilities.count {
                cumulative += probabilities[keep]
                keep += 1
                if cumulative >= Double(parameters.topP) { break }
            }
            order.removeSubrange(keep...)
            probabilities.removeSubrange(keep...)
        }
        let mass = probabilities.reduce(0, +)
        var draw = generator.unit() * mass
        for (index, p) in probabilities.enumerated() {
            draw -= p
            if draw < 0 { return Int32(order[index]) }
        }
        return Int32(order[order.count - 1])
    }
}

/// What ``LlamaModel/generate(prompt:maxTokens:sampling:stopTokens:onToken:)`` produced, with honest wall-clock speeds.
public struct GenerationResult: Sendable {
    /// The prompt's token ids.
    public var promptTokens: [Int32]
    /// The generated ids (a stop token that ended generation included).
    public var tokens: [Int32]
    /// Prompt tokens processed per second (the batched prompt pass).
    public var promptTokensPerSecond: Double
    /// Generated tokens per second after the first (batch-1 decode steps).
    public var decodeTokensPerSecond: Double
}

/// Monotonic seconds.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

extension LlamaModel {
    /// Generates up to `maxTokens` tokens after `prompt`: one batched pass over the prompt,
    /// then one batch-1 step per token. `onToken` sees every token as it is produced (return
    /// `false` to stop); generation also stops after any of `stopTokens`.
    ///
    /// ```swift
    /// let result = try model.generate(prompt: ids, maxTokens: 32, sampling: .init(temperature: 0.7, topP: 0.9, seed: 1)) { token in
    ///     print(token); return true
    /// }
    /// ```
    public func generate(
        prompt: [Int32], maxTokens: Int, sampling: SamplingParameters = SamplingParameters(),
        stopTokens: Set<Int32> = [], onToken: (Int32) -> Bool = { _ in true }
    ) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw LlamaError.emptyPrompt }
        guard maxTokens >= 0 else { throw LlamaError.invalidParameter(name: "max-tokens", reason: "must be 0 or more, got \(maxTokens)") }
        var sampler = try TokenSampler(sampling)
        var cache = makeCache(capacity: prompt.count + maxTokens)
        var generated: [Int32] = []
        let start = monotonicSeconds()
        var logits = try forward(prompt, cache: &cache)
        let promptSeconds = monotonicSeconds() - start
        let decodeStart = monotonicSeconds()
        var steps = 0
        while generated.count < maxTokens {
            let token = sampler.sample(logits.storage[...])
            generated.append(token)
            if stopTokens.contains(token) || !onToken(token) || generated.count == maxTokens { break }
            logits = try forward([token], cache: &cache)
            steps += 1
        }
        let decodeSeconds = monotonicSeconds() - decodeStart
        return GenerationResult(
            promptTokens: prompt, tokens: generated,
            promptTokensPerSecond: Double(prompt.count) / max(promptSeconds, 1e-9),
            decodeTokensPerSecond: steps > 0 ? Double(steps) / max(decodeSeconds, 1e-9) : 0)
    }
}
