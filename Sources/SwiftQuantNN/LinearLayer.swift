import SwiftQuantCore
import SwiftQuantKernels

/// A layer computing `y = x · Wᵀ + b`: ``Linear`` (Float32 weights) or ``QuantizedLinear``
/// (INT8 weights), so that model code can hold either.
public protocol LinearLayer: Sendable {
    /// Features each input row has.
    var inFeatures: Int { get }
    /// Features each output row has.
    var outFeatures: Int { get }
    /// Maps an input of shape `[..., inFeatures]` to `[..., outFeatures]`.
    func forward(_ input: FloatTensor) throws(LayerError) -> FloatTensor
}

extension Linear: LinearLayer {}
extension QuantizedLinear: LinearLayer {}

/// `a · bᵀ` for row-major matrices `a` of shape `[m, k]` and `b` of shape `[n, k]`: the
/// product attention needs (`Q · Kᵀ`), on the same kernel as ``Linear``.
///
/// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)`` unless both are 2-D with
///   the same number of columns.
public func multiplyTransposed(_ a: FloatTensor, _ b: FloatTensor) throws(LayerError) -> FloatTensor {
    guard b.shape.count == 2, b.shape[0] > 0, b.shape[1] > 0 else {
        throw .weightShapeMismatch(expected: [max(b.shape.first ?? 1, 1), a.shape.last ?? 1], actual: b.shape)
    }
    guard a.shape.count == 2 else {
        throw .inputShapeMismatch(inFeatures: b.shape[1], actual: a.shape)
    }
    let batch = try batchRows(of: a.shape, inFeatures: b.shape[1])
    return b.storage.withUnsafeBytes { bytes in
        // A view of `b` for the duration of the call; the kernel never keeps it.
        let view = WeightBuffer(bytes: bytes, owner: OwnerToken.shared)
        return computeProduct(Float32Rows(), buffer: view, scales: .none, bias: nil, input: a, batch: batch,
                              inFeatures: b.shape[1], outFeatures: b.shape[0])
    }
}

/// The owner of borrowed views, which need none.
final class OwnerToken: Sendable {
    static let shared = OwnerToken()
}

extension LinearLayer {
    /// Runs the layer on Float16 activations of shape `[..., inFeatures]`.
    ///
    /// Every Float16 value is exact in Float32, so this widens the input once (a pass over the
    /// activations, small next to the weights) and runs the Float32 kernel: the result equals
    /// ``forward(_:)`` on the widened input.
    ///
    /// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)`` when `values` does not
    ///   fill `shape` or the last dimension is not `inFeatures`.
    public func forward(float16 values: [Float16], shape: [Int]) throws(LayerError) -> FloatTensor {
        guard let count = shape.checkedElementCount, count == values.count else {
            throw .inputShapeMismatch(inFeatures: inFeatures, actual: shape)
        }
        return try forward(FloatTensor(uncheckedShape: shape, storage: values.map(Float.init)))
    }
}
