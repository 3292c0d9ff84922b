import Foundation
import SwiftQuantCore

/// BERT's GELU: `x · Φ(x)` with the exact normal CDF (erf), not the tanh approximation.
///
/// ```swift
/// gelu(1)   // ≈ 0.8413
/// ```
@inlinable
public func gelu(_ x: Float) -> Float {
    0.5 * x * (1 + erf(x * 0.70710678118654752))
}

/// Applies ``gelu(_:)`` to every value in place.
public func applyGELU(_ values: inout [Float]) {
    for i in values.indices { values[i] = gelu(values[i]) }
}
