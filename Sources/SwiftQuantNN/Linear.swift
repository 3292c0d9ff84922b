import SwiftQuantCore
import SwiftQuantKernels

/// A float linear layer, `y = x · Wᵀ + b`, with a Float32 weight of shape `[outFeatures, inFeatures]`.
///
/// The float counterpart of ``QuantizedLinear`` (the baseline it is measured against), and the
/// source of ``QuantizedLinear/fromLinear(_:granularity:)``. It runs on the same blocked,
/// multi-threaded SIMD kernel as the int8 layer.
///
/// ```swift
/// let layer = try Linear(weight: FloatTensor(shape: [2, 3], storage: [1, 0, 0, 0, 1, 0]), bias: [0.5, -0.5])
/// let y = try layer(FloatTensor(shape: [1, 3], storage: [1, 2, 3]))   // [[1.5, 1.5]]
/// ```
public struct Linear: Sendable {
    /// Features each input row has (the weight's columns).
    public let inFeatures: Int
    /// Features each output row has (the weight's rows).
    public let outFeatures: Int
    /// The bias added to every output row, `outFeatures` values, or `nil`.
    public let bias: [Float]?

    let buffer: WeightBuffer

    /// Creates a layer from a `[outFeatures, inFeatures]` weight and an optional bias.
    ///
    /// - Throws: ``LayerError/weightShapeMismatch(expected:actual:)`` unless the weight is 2-D
    ///   with positive dimensions; ``LayerError/biasCountMismatch(expected:actual:)``.
    public init(weight: FloatTensor, bias: [Float]? = nil) throws(LayerError) {
        guard weight.shape.count == 2, weight.shape[0] > 0, weight.shape[1] > 0 else {
            throw .weightShapeMismatch(expected: [max(weight.shape.first ?? 1, 1), max(weight.shape.last ?? 1, 1)], actual: weight.shape)
        }
        if let bias, bias.count != weight.shape[0] {
            throw .biasCountMismatch(expected: weight.shape[0], actual: bias.count)
        }
        self.init(outFeatures: weight.shape[0], inFeatures: weight.shape[1], bias: bias,
                  buffer: WeightBuffer(copying: weight.storage))
    }

    init(outFeatures: Int, inFeatures: Int, bias: [Float]?, buffer: WeightBuffer) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.bias = bias
        self.buffer = buffer
    }

    /// The weight, `[outFeatures, inFeatures]`.
    public var weight: FloatTensor {
        let count = outFeatures * inFeatures
        let storage = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            // The buffer may be an unaligned view into a mapped file.
            UnsafeMutableRawBufferPointer(out).copyMemory(from: buffer.bytes)
            initialized = count
        }
        return FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: storage)
    }

    /// Computes `input · Wᵀ + b` for an input of shape `[..., inFeatures]`.
    ///
    /// - Returns: a tensor of shape `[..., outFeatures]`.
    /// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)``.
    public func forward(_ input: FloatTensor) throws(LayerError) -> FloatTensor {
        try runProduct(Float32Rows(), buffer: buffer, scales: .none, bias: bias, input: input,
                       inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// Same as ``forward(_:)``.
    public func callAsFunction(_ input: FloatTensor) throws(LayerError) -> FloatTensor {
        try forward(input)
    }
}
