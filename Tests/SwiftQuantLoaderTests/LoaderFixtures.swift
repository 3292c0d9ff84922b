import Foundation
import SwiftQuant

/// Deterministic floats uniform in ±`scale` (a fixed LCG, so fixtures never change).
func randomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> FloatTensor {
    FloatTensor(uncheckedShape: shape, storage: randomFloats(shape.reduce(1, *), seed: seed, scale: scale))
}

/// `x · Wᵀ + b` in Double, one dot product at a time: the reference the kernels must match.
/// Returns the result and, per output, the sum of |terms| (the scale of the rounding error).
func referenceProduct(
    input: [Float], batch: Int, weight: [Float], outFeatures: Int, inFeatures: Int, bias: [Float]?
) -> (values: [Double], magnitudes: [Double]) {
    var values = [Double](repeating: 0, count: batch * outFeatures)
    var magnitudes = values
    for b in 0..<batch {
        for o in 0..<outFeatures {
            var sum = Double(bias?[o] ?? 0)
            var magnitude = abs(sum)
            for k in 0..<inFeatures {
                let term = Double(input[b * inFeatures + k]) * Double(weight[o * inFeatures + k])
                sum += term
                magnitude += abs(term)
            }
            values[b * outFeatures + o] = sum
            magnitudes[b * outFeatures + o] = magnitude
        }
    }
    return (values, magnitudes)
}

/// The largest error relative to the magnitude of the terms: Float32 accumulation keeps this
/// around 1e-7 × √k, so anything above 1e-5 is a wrong element, not rounding.
func worstRelativeError(_ actual: [Float], _ reference: (values: [Double], magnitudes: [Double])) -> Double {
    precondition(actual.count == reference.values.count)
    var worst = 0.0
    for i in actual.indices {
        let error = abs(Double(actual[i]) - reference.values[i]) / max(reference.magnitudes[i], 1e-30)
        worst = max(worst, error)
    }
    return worst
}

/// The real all-MiniLM-L6-v2 folder (resolved by `TestModels`; throws, naming Tests/setup.sh,
/// when no models folder has it).
var miniLMDirectory: String {
    get throws { try TestModels.miniLM }
}
