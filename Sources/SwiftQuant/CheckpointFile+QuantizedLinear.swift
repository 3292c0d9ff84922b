import SwiftQuantCore
import SwiftQuantCheckpoint
import SwiftQuantKernels

extension CheckpointFile {
    /// The INT8 layer stored as `<name>.weight` (any granularity), with `<name>.bias` when the
    /// checkpoint has one.
    ///
    /// Values stored with the raw codec stay in the memory map: the layer reads them in place,
    /// and the file stays mapped as long as the layer lives. Compressed values are decoded once
    /// into memory the layer owns. Scales and bias are small and always copied.
    ///
    /// ```swift
    /// let checkpoint = try CheckpointFile(path: "minilm-int8.swq")
    /// let query = try checkpoint.quantizedLinear("encoder.layer.0.attention.self.query")
    /// let y = try query(x)   // x: [tokens, 384]
    /// ```
    ///
    /// - Throws: ``SwiftQuantReaders/TensorSourceError/noSuchTensor(path:name:)`` when the
    ///   weight is missing, ``SwiftQuantReaders/CheckpointError/notQuantized(path:tensor:)``
    ///   when the rules kept it float (use ``linearLayer(_:)`` to accept either),
    ///   ``LayerLoadingError`` when the tensors do not form a layer, and checksum errors.
    public func quantizedLinear(_ name: String) throws -> QuantizedLinear {
        let weightName = name + ".weight"
        guard info(for: weightName) != nil else {
            throw TensorSourceError.noSuchTensor(path: path, name: weightName)
        }
        let weight = try quantizedTensor(named: weightName)
        let bias = try optionalBias(for: name)
        let shape = weight.shape
        do {
            guard shape.count == 2 else {
                throw LayerError.weightShapeMismatch(expected: [shape.first ?? 1, shape.dropFirst().reduce(1, *)], actual: shape)
            }
            return try QuantizedLinear(
                outFeatures: shape[0], inFeatures: shape[1], values: WeightBuffer(weight.values),
                scales: weight.scales, granularity: weight.granularity, bias: bias)
        } catch let error as LayerError {
            throw LayerLoadingError.invalidLayer(path: path, layer: name, reason: error)
        }
    }

    /// Whichever layer the checkpoint holds for `name`: a ``QuantizedLinear`` when
    /// `<name>.weight` is quantized, a float ``Linear`` when the rules kept it.
    public func linearLayer(_ name: String) throws -> any LinearLayer {
        let weightName = name + ".weight"
        guard let info = info(for: weightName) else {
            throw TensorSourceError.noSuchTensor(path: path, name: weightName)
        }
        if info.storage?.quantization != nil {
            return try quantizedLinear(name)
        }
        return try linear(name)
    }
}
