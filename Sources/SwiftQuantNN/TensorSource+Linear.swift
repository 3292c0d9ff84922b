import SwiftQuantCore
import SwiftQuantKernels

extension TensorSource {
    /// A float layer from `<name>.weight` (shape `[outFeatures, inFeatures]`) and, when the
    /// source has it, `<name>.bias`.
    ///
    /// Float32 weights are used in place, zero-copy, as long as the source hands out views
    /// (a memory-mapped safetensors file does); other float dtypes are decoded to Float32.
    ///
    /// ```swift
    /// let model = try openTensorSource(at: "model.safetensors")
    /// let query = try model.linear("encoder.layer.0.attention.self.query")
    /// ```
    ///
    /// - Throws: `TensorSourceError.noSuchTensor(path:name:)` when the
    ///   weight is missing, ``LayerLoadingError`` when the tensors do not form a layer, and
    ///   the reader's errors.
    public func linear(_ name: String) throws -> Linear {
        let weightName = name + ".weight"
        guard let info = info(for: weightName) else {
            throw TensorSourceError.noSuchTensor(path: path, name: weightName)
        }
        let bias = try optionalBias(for: name)
        do {
            if info.dtype == .f32, info.shape.count == 2 {
                let data = try data(for: weightName)
                return try Linear(weight: WeightBuffer(data), shape: info.shape, bias: bias)
            }
            guard info.dtype.isDecodableFloat else {
                throw LayerLoadingError.unsupportedWeightType(path: path, tensor: weightName, dtype: info.dtype)
            }
            let weight = FloatTensor(uncheckedShape: info.shape, storage: try floats(for: weightName))
            return try Linear(weight: weight, bias: bias)
        } catch let error as LayerError {
            throw LayerLoadingError.invalidLayer(path: path, layer: name, reason: error)
        }
    }

    /// The INT8 layer stored as `<name>.weight` (any scheme with 8-bit codes the source hands
    /// out through `TensorSource.quantizedWeight(for:)`: a checkpoint's symmetric INT8, the
    /// int8 safetensors layout, GGUF Q8_0), with `<name>.bias` when the source has one.
    ///
    /// Codes the file stores raw stay in the memory map: the layer reads them in place, and the
    /// file stays mapped as long as the layer lives (a checkpoint written uncompressed, an int8
    /// safetensors file). Compressed codes are decoded once into memory the layer owns. Scales
    /// and bias are small and always copied.
    ///
    /// ```swift
    /// let checkpoint = try CheckpointFile(path: "minilm-int8.swq")
    /// let query = try checkpoint.quantizedLinear("encoder.layer.0.attention.self.query")
    /// let y = try query(x)   // x: [tokens, 384]
    /// ```
    ///
    /// - Throws: `TensorSourceError.noSuchTensor(path:name:)` when the weight is missing,
    ///   ``LayerLoadingError/notQuantized(path:tensor:)`` when it is stored as float (use
    ///   ``linearLayer(_:)`` to accept either), ``LayerLoadingError/invalidLayer(path:layer:reason:)``
    ///   when the tensors do not form a layer, and the reader's errors (checksums, …).
    public func quantizedLinear(_ name: String) throws -> QuantizedLinear {
        let weightName = name + ".weight"
        guard info(for: weightName) != nil else {
            throw TensorSourceError.noSuchTensor(path: path, name: weightName)
        }
        guard let weight = try quantizedWeight(for: weightName) else {
            throw LayerLoadingError.notQuantized(path: path, tensor: weightName)
        }
        let bias = try optionalBias(for: name)
        do {
            return try QuantizedLinear(weight: weight, bias: bias)
        } catch {
            throw LayerLoadingError.invalidLayer(path: path, layer: name, reason: error)
        }
    }

    /// Whichever layer the source holds for `name`: a ``QuantizedLinear`` when `<name>.weight`
    /// is quantized, a float ``Linear`` otherwise.
    public func linearLayer(_ name: String) throws -> any LinearLayer {
        let weightName = name + ".weight"
        guard info(for: weightName) != nil else {
            throw TensorSourceError.noSuchTensor(path: path, name: weightName)
        }
        if let weight = try quantizedWeight(for: weightName) {
            let bias = try optionalBias(for: name)
            do {
                return try QuantizedLinear(weight: weight, bias: bias)
            } catch {
                throw LayerLoadingError.invalidLayer(path: path, layer: name, reason: error)
            }
        }
        return try linear(name)
    }

    /// `<name>.bias` as Float32, or `nil` when the source has no such tensor.
    package func optionalBias(for name: String) throws -> [Float]? {
        guard info(for: name + ".bias") != nil else { return nil }
        return try floats(for: name + ".bias")
    }
}

extension Linear {
    /// A layer over weight bytes it does not copy: Float32, little-endian, possibly unaligned.
    init(weight: WeightBuffer, shape: [Int], bias: [Float]?) throws(LayerError) {
        guard shape.count == 2, shape[0] > 0, shape[1] > 0, weight.bytes.count == shape[0] * shape[1] * 4 else {
            throw .weightShapeMismatch(expected: [max(shape.first ?? 1, 1), max(shape.last ?? 1, 1)], actual: shape)
        }
        if let bias, bias.count != shape[0] {
            throw .biasCountMismatch(expected: shape[0], actual: bias.count)
        }
        self.init(outFeatures: shape[0], inFeatures: shape[1], bias: bias, buffer: weight)
    }
}
