import CSwiftQuantKernels
import SwiftQuantCore
import SwiftQuantKernels

/// The gated MLP of llama-family decoders: `down(silu(gate(x)) ⊙ up(x))`.
public struct SwiGLU: Sendable {
    public let gate: any LinearLayer
    public let up: any LinearLayer
    public let down: any LinearLayer

    /// Creates the block.
    ///
    /// - Throws: ``LayerError/weightShapeMismatch(expected:actual:)`` when `up` does not
    ///   match `gate` or `down` does not take `gate`'s outputs.
    public init(gate: any LinearLayer, up: any LinearLayer, down: any LinearLayer) throws(LayerError) {
        guard up.inFeatures == gate.inFeatures, up.outFeatures == gate.outFeatures else {
            throw .weightShapeMismatch(expected: [gate.outFeatures, gate.inFeatures], actual: [up.outFeatures, up.inFeatures])
        }
        guard down.inFeatures == gate.outFeatures else {
            throw .weightShapeMismatch(expected: [down.outFeatures, gate.outFeatures], actual: [down.outFeatures, down.inFeatures])
        }
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// Maps `[..., inFeatures]` to `[..., down.outFeatures]`.
    public func callAsFunction(_ x: FloatTensor) throws(LayerError) -> FloatTensor {
        var g = try gate.forward(x)
        let u = try up.forward(x)
        let isa = KernelISA.active.rawValue
        g.storage.withUnsafeMutableBufferPointer { gates in
            u.storage.withUnsafeBufferPointer { ups in
                // silu(g) · u = g · sigmoid(g) · u, element by element.
                sqk_silu_mul(isa, gates.baseAddress, ups.baseAddress, 0, gates.count)
            }
        }
        return try down.forward(g)
    }
}
