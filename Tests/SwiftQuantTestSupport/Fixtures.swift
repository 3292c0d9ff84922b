/// Deterministic pseudo-random floats shaped like weights: bell-shaped around 0 (a sum of
/// four uniforms from a fixed LCG, so fixtures never change and every target that builds
/// weights from a seed builds the same ones).
public func pseudoRandomFloats(_ count: Int, seed: UInt64 = 1, scale: Float = 0.05) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        var sum: Float = 0
        for _ in 0..<4 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            sum += Float(state >> 40) / Float(1 << 24)
        }
        return (sum / 2 - 1) * scale
    }
}
