#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftQuantCore
import SwiftQuantKernels

/// Rotary position embeddings (RoPE) applied to query and key heads.
///
/// Each head of `dimension` features is rotated pair by pair by `position × frequency[i]`,
/// with `frequency[i] = 1 / base^(2i / dimension)` (then rescaled by ``Scaling``). Angles,
/// sines and cosines are computed in Double and rounded once, so they are at least as
/// accurate as the reference's Float32 ones.
public struct RotaryEmbedding: Sendable {
    /// Which features form a rotated pair.
    public enum Layout: Sendable, Equatable {
        /// Feature `i` pairs with `i + dimension/2` (Hugging Face's `rotate_half`).
        case halves
        /// Feature `2i` pairs with `2i + 1`: the layout of llama.cpp's GGUF files, whose
        /// converter permutes the rows of the q and k projections of llama models.
        case interleaved
    }

    /// How the frequencies are rescaled for longer contexts (`rope_scaling` in `config.json`).
    public enum Scaling: Sendable, Equatable {
        /// Plain RoPE.
        case none
        /// Positions divided by `factor` (every frequency divided by `factor`).
        case linear(factor: Double)
        /// Llama 3.1's band-wise rescaling: low frequencies divided by `factor`, high ones kept,
        /// a smooth blend in between.
        case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
        /// Frequency `i` divided by `factors[i]`, one factor per rotated pair: GGUF's
        /// `rope_freqs.weight`, llama.cpp's per-dimension frequency factors (how
        /// convert_hf_to_gguf.py writes Llama 3's scaling).
        case frequencyFactors([Double])
    }

    /// Features per head that are rotated (the head dimension).
    public let dimension: Int
    /// The pair layout.
    public let layout: Layout
    /// `dimension / 2` angular frequencies.
    public let frequencies: [Double]

    /// Frequencies for `rope_theta = base`, rescaled by `scaling`.
    public init(dimension: Int, base: Double, scaling: Scaling = .none, layout: Layout = .halves) {
        self.dimension = dimension
        self.layout = layout
        let half = dimension / 2
        var frequencies = (0..<half).map { i in
            // HF: 1 / base ** (arange(0, dim, 2).float() / dim); the exponent is exact in Float32.
            1 / pow(base, Double(Float(2 * i) / Float(dimension)))
        }
        switch scaling {
        case .none:
            break
        case .linear(let factor):
            frequencies = frequencies.map { $0 / factor }
        case .llama3(let factor, let low, let high, let original):
            // transformers' _compute_llama3_parameters.
            let lowWavelength = Double(original) / low
            let highWavelength = Double(original) / high
            frequencies = frequencies.map { frequency in
                let wavelength = 2 * Double.pi / frequency
                if wavelength < highWavelength { return frequency }
                if wavelength > lowWavelength { return frequency / factor }
                let smooth = (Double(original) / wavelength - low) / (high - low)
                return (1 - smooth) * frequency / factor + smooth * frequency
            }
        case .frequencyFactors(let factors):
            frequencies = frequencies.enumerated().map { i, frequency in
                i < factors.count ? frequency / factors[i] : frequency
            }
        }
        self.frequencies = frequencies
    }

    /// Rotates `heads` heads of every row in place: row `r` of `values` (shape
    /// `[rows, heads × dimension]`) is at position `firstPosition + r`.
    package func apply(_ values: inout [Float], rows: Int, heads: Int, firstPosition: Int) {
        let half = dimension / 2
        let width = heads * dimension
        var cosines = [Float](repeating: 0, count: half)
        var sines = [Float](repeating: 0, count: half)
        values.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<rows {
                let position = Double(firstPosition + row)
                for i in 0..<half {
                    let angle = position * frequencies[i]
                    cosines[i] = Float(cos(angle))
                    sines[i] = Float(sin(angle))
                }
                for head in 0..<heads {
                    let base = buffer.baseAddress! + row * width + head * dimension
                    for i in 0..<half {
                        let (a, b) = layout == .halves ? (i, i + half) : (2 * i, 2 * i + 1)
                        let x = base[a], y = base[b]
                        base[a] = x * cosines[i] - y * sines[i]
                        base[b] = y * cosines[i] + x * sines[i]
                    }
                }
            }
        }
    }

    /// Rotates a tensor of shape `[rows, heads × dimension]` whose first row is at `firstPosition`.
    ///
    /// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)`` when the last dimension
    ///   is not a multiple of ``dimension``.
    public func callAsFunction(_ x: FloatTensor, firstPosition: Int) throws(LayerError) -> FloatTensor {
        guard x.shape.count == 2, dimension > 0, x.shape[1] % dimension == 0 else {
            throw .inputShapeMismatch(inFeatures: dimension, actual: x.shape)
        }
        var out = x
        apply(&out.storage, rows: x.shape[0], heads: x.shape[1] / dimension, firstPosition: firstPosition)
        return out
    }
}
