import SwiftQuantCore
import SwiftQuantKernels

/// A linear layer with symmetric INT8 weights: `y = x · (q × scale)ᵀ + b`.
///
/// The weight of shape `[outFeatures, inFeatures]` is stored as int8 values with Float32
/// scales (one per tensor, per output row, or per group of inputs along each row), and the
/// product runs on int8 directly: weights are widened to Float in SIMD registers, never
/// expanded into a float copy. Activations stay Float32.
///
/// Build one the way the reference library does, or load it from a SwiftQuant checkpoint
/// (see `CheckpointFile.quantizedLinear(_:)`):
///
/// ```swift
/// var layer = QuantizedLinear(inFeatures: 384, outFeatures: 1536)
/// try layer.quantizeWeights(weight)                // per channel
/// let y = try layer(x)                             // x: [..., 384] → y: [..., 1536]
///
/// let fromFloat = try QuantizedLinear.fromLinear(floatLayer)
/// ```
public struct QuantizedLinear: Sendable {
    /// Features each input row has (the weight's columns).
    public let inFeatures: Int
    /// Features each output row has (the weight's rows).
    public let outFeatures: Int
    /// The bias added to every output row, `outFeatures` values, or `nil`.
    public private(set) var bias: [Float]?
    /// How the scales apply, or `nil` before the weights are quantized.
    public private(set) var granularity: Granularity?
    /// The Float32 scales: 1 per tensor, `outFeatures` per channel, or
    /// `outFeatures × (inFeatures / size)` per group, row-major.
    public private(set) var scales: [Float] = []

    /// Whether ``forward(_:)`` also quantizes the activations (W8A8), off by default.
    ///
    /// When on, each input row is quantized symmetric to int8 on the fly (its own scale,
    /// `max|x| / 127`, round half to even) and multiplied with the int8 weights in int32, with one
    /// Float32 rescale per output: faster on CPUs with integer dot products (AVX-512 VNNI), but
    /// the result is no longer the reference's `x · dequantize(W)ᵀ`. Per-tensor and per-channel
    /// weights only; per-group layers ignore it.
    public var quantizesActivations = false

    var values: WeightBuffer?

    /// Creates a layer without weights; call ``quantizeWeights(_:granularity:)`` before ``forward(_:)``.
    ///
    /// `QuantizedLinear(in_features, out_features, bias=False)` in rotalabs_accel: no bias by
    /// default (LLM weights have none); with `bias: true` the layer gets a zero bias of
    /// `outFeatures` values (replace it with ``setBias(_:)``), as the reference's module does.
    /// Feature counts must be positive; a layer with a non-positive count throws on every call.
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = false) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.bias = bias ? [Float](repeating: 0, count: max(0, outFeatures)) : nil
    }

    /// Creates a layer from already quantized weights, such as `quantizeSymmetric(_:granularity:)` returns.
    ///
    /// - Throws: ``LayerError`` when the shape is not 2-D, the scale count does not fit the
    ///   granularity, or the bias count is not `outFeatures`.
    public init(quantized weight: QuantizedTensor, bias: [Float]? = nil) throws(LayerError) {
        guard weight.shape.count == 2, weight.shape[0] > 0, weight.shape[1] > 0,
              weight.values.count == weight.shape[0] * weight.shape[1] else {
            throw .weightShapeMismatch(expected: [max(weight.shape.first ?? 1, 1), max(weight.shape.last ?? 1, 1)], actual: weight.shape)
        }
        try self.init(
            outFeatures: weight.shape[0], inFeatures: weight.shape[1],
            values: WeightBuffer(copying: weight.values), scales: weight.scales,
            granularity: weight.granularity, bias: bias)
    }

    /// The designated path for every source of int8 weights, including zero-copy checkpoint views.
    package init(
        outFeatures: Int, inFeatures: Int, values: WeightBuffer, scales: [Float],
        granularity: Granularity, bias: [Float]?
    ) throws(LayerError) {
        guard inFeatures > 0, outFeatures > 0 else {
            throw .invalidFeatureCount(inFeatures: inFeatures, outFeatures: outFeatures)
        }
        guard values.bytes.count == inFeatures * outFeatures else {
            throw .weightShapeMismatch(expected: [outFeatures, inFeatures], actual: [values.bytes.count])
        }
        if case .perGroup(let size) = granularity, size <= 0 || inFeatures % size != 0 {
            throw .quantization(.invalidGroupSize(size))
        }
        let expected = scaleCount(shape: [outFeatures, inFeatures], granularity: granularity)
        guard scales.count == expected else {
            throw .scaleCountMismatch(granularity: granularity, expected: expected, actual: scales.count)
        }
        if let bias, bias.count != outFeatures {
            throw .biasCountMismatch(expected: outFeatures, actual: bias.count)
        }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.values = values
        self.scales = scales
        self.granularity = granularity
        self.bias = bias
    }

    /// Whether the layer has weights and can run.
    public var isQuantized: Bool { values != nil }

    /// Quantizes a float weight of shape `[outFeatures, inFeatures]` into the layer.
    ///
    /// Uses the reference semantics of `quantizeSymmetric(_:granularity:)`:
    /// `scale = max|w| / 127`, round half to even, clamp to [-128, 127]. Per group falls back
    /// to per channel when `inFeatures` is not a multiple of the group size.
    ///
    /// - Throws: ``LayerError/weightShapeMismatch(expected:actual:)`` for another shape,
    ///   ``LayerError/quantization(_:)`` for NaN or infinite weights.
    public mutating func quantizeWeights(_ weight: FloatTensor, granularity: Granularity = .perChannel) throws(LayerError) {
        guard inFeatures > 0, outFeatures > 0 else {
            throw .invalidFeatureCount(inFeatures: inFeatures, outFeatures: outFeatures)
        }
        guard weight.shape == [outFeatures, inFeatures] else {
            throw .weightShapeMismatch(expected: [outFeatures, inFeatures], actual: weight.shape)
        }
        if case .perGroup(let size) = granularity, size <= 0 {
            throw .quantization(.invalidGroupSize(size))
        }
        let quantized: QuantizedTensor
        do {
            quantized = try quantizeSymmetric(weight, granularity: granularity)
        } catch {
            throw .quantization(error)
        }
        values = WeightBuffer(copying: quantized.values)
        scales = quantized.scales
        self.granularity = quantized.granularity
    }

    /// Replaces the bias; `nil` removes it.
    ///
    /// - Throws: ``LayerError/biasCountMismatch(expected:actual:)``.
    public mutating func setBias(_ bias: [Float]?) throws(LayerError) {
        if let bias, bias.count != outFeatures {
            throw .biasCountMismatch(expected: outFeatures, actual: bias.count)
        }
        self.bias = bias
    }

    /// A quantized copy of a float layer, bias included.
    public static func fromLinear(_ linear: Linear, granularity: Granularity = .perChannel) throws(LayerError) -> QuantizedLinear {
        var layer = QuantizedLinear(inFeatures: linear.inFeatures, outFeatures: linear.outFeatures, bias: false)
        try layer.quantizeWeights(linear.weight, granularity: granularity)
        layer.bias = linear.bias
        return layer
    }

    /// The int8 weight values, `[outFeatures, inFeatures]` row-major, or `nil` before quantization.
    public var weightValues: [Int8]? {
        values?.elements(as: Int8.self)
    }

    /// The weight as `QuantizedTensor`, or `nil` before quantization.
    public var quantizedWeight: QuantizedTensor? {
        guard let weightValues, let granularity else { return nil }
        return QuantizedTensor(shape: [outFeatures, inFeatures], values: weightValues, scales: scales, granularity: granularity)
    }

    /// Computes `input · (q × scale)ᵀ + b` for an input of shape `[..., inFeatures]`.
    ///
    /// - Returns: a tensor of shape `[..., outFeatures]`.
    /// - Throws: ``LayerError/notQuantized(inFeatures:outFeatures:)`` before the weights are
    ///   set, ``LayerError/inputShapeMismatch(inFeatures:actual:)`` for a wrong input shape.
    public func forward(_ input: FloatTensor) throws(LayerError) -> FloatTensor {
        guard let values, let granularity else {
            throw .notQuantized(inFeatures: inFeatures, outFeatures: outFeatures)
        }
        if quantizesActivations, let product = try forwardQuantizingActivations(input, values: values, granularity: granularity) {
            return product
        }
        return try scales.withUnsafeBufferPointer { (scalePointer) throws(LayerError) -> FloatTensor in
            let layout: ScaleLayout
            switch granularity {
            case .perTensor: layout = .perTensor(scalePointer[0])
            case .perChannel: layout = .perRow(scalePointer.baseAddress!)
            case .perGroup(let size): layout = .perGroup(scalePointer.baseAddress!, size: size)
            }
            return try runProduct(Int8Rows(), buffer: values, scales: layout, bias: bias, input: input,
                                  inFeatures: inFeatures, outFeatures: outFeatures)
        }
    }

    /// Same as ``forward(_:)``.
    public func callAsFunction(_ input: FloatTensor) throws(LayerError) -> FloatTensor {
        try forward(input)
    }
}
