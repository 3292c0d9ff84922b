import SwiftQuantCore
import SwiftQuantKernels

extension TensorSource {
    /// The float tensor `name`, decoded to Float32, after checking that its shape is `shape`.
    ///
    /// - Throws: `TensorSourceError.noSuchTensor(path:name:)` when it is missing,
    ///   ``LayerLoadingError/shapeMismatch(path:tensor:expected:actual:)`` when its shape differs,
    ///   and the reader's errors.
    public func floats(for name: String, shape: [Int]) throws -> [Float] {
        guard let info = info(for: name) else {
            throw TensorSourceError.noSuchTensor(path: path, name: name)
        }
        guard info.shape == shape else {
            throw LayerLoadingError.shapeMismatch(path: path, tensor: name, expected: shape, actual: info.shape)
        }
        return try floats(for: name)
    }

    /// A ``LayerNorm`` from `<prefix>.weight` (γ) and `<prefix>.bias` (β), each of shape `[size]`.
    ///
    /// ```swift
    /// let norm = try model.layerNorm("encoder.layer.0.output.LayerNorm", size: 384, epsilon: 1e-12)
    /// ```
    public func layerNorm(_ prefix: String, size: Int, epsilon: Float) throws -> LayerNorm {
        let gamma = try floats(for: prefix + ".weight", shape: [size])
        let beta = try floats(for: prefix + ".bias", shape: [size])
        do {
            return try LayerNorm(gamma: gamma, beta: beta, epsilon: epsilon)
        } catch {
            throw LayerLoadingError.invalidLayer(path: path, layer: prefix, reason: error)
        }
    }

    /// The `[inFeatures → outFeatures]` layer `name` built by `make` (for example
    /// ``linear(_:)``, or a checkpoint's INT8 loader), after checking its shape.
    ///
    /// - Throws: ``LayerLoadingError/shapeMismatch(path:tensor:expected:actual:)`` naming
    ///   `<name>.weight` when the layer has other sizes, and whatever `make` throws.
    public func checkedLayer(
        _ name: String, inFeatures: Int, outFeatures: Int, make: (String) throws -> any LinearLayer
    ) throws -> any LinearLayer {
        let layer = try make(name)
        guard layer.inFeatures == inFeatures, layer.outFeatures == outFeatures else {
            throw LayerLoadingError.shapeMismatch(
                path: path, tensor: name + ".weight", expected: [outFeatures, inFeatures],
                actual: [layer.outFeatures, layer.inFeatures])
        }
        return layer
    }
}
