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
/// (see `TensorSource.quantizedLinear(_:)`):
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
    /// The weight, `[outFeatures, inFeatures]`, or `nil` before the weights are quantized.
    public private(set) var quantizedWeight: QuantizedWeight?
    /// How the scales apply (per group of 32 for Q8_0), or `nil` before the weights are quantized.
    public var granularity: Granularity? { quantizedWeight?.granularity }
    /// The Float32 scales: 1 per tensor, `outFeatures` per channel, or
    /// `outFeatures × (inFeatures / size)` per group, row-major.
    public var scales: [Float] { quantizedWeight?.scales ?? [] }

    /// Whether ``forward(_:)`` also quantizes the activations (W8A8), off by default.
    ///
    /// When on, each input row is quantized symmetric to int8 on the fly (its own scale,
    /// `max|x| / 127`, round half to even) and multiplied with the int8 weights in int32, with one
    /// Float32 rescale per output: faster on CPUs with integer dot products (AVX-512 VNNI), but
    /// the result is no longer the reference's `x · dequantize(W)ᵀ`. Per-tensor and per-channel
    /// weights only; per-group layers ignore it.
    public var quantizesActivations = false {
        didSet { packForActivationQuantization() }
    }

    /// With ``quantizesActivations``: input columns per activation scale, or `nil` (the default)
    /// for one scale per input row.
    ///
    /// Per-group scales (each run of `size` columns of a row quantized with its own
    /// `max|x| / 127`) keep a few large activations from coarsening the rest of the row, as
    /// LayerNorm outputs with outlier channels do; each group's int32 sum is rescaled with one
    /// fused multiply-add. A positive multiple of 4; other values make `forward(_:)` throw
    /// ``LayerError/quantization(_:)``.
    public var activationGroupSize: Int? {
        didSet { packForActivationQuantization() }
    }

    /// The int8 weights in the W8A8 kernel's layout, built once when ``quantizesActivations``
    /// is switched on (per-tensor and per-channel weights only).
    var packedWeights: PackedW8A8Weights?

    /// The codes as the matmul reads them (a view of `quantizedWeight.codes`, which it keeps alive).
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

    /// Creates a layer from a quantized weight of shape `[outFeatures, inFeatures]`: symmetric
    /// INT8 at any granularity (`SymmetricInt8`, a checkpoint's tensors, the int8 safetensors
    /// layout) or Q8_0 (a GGUF file's), which runs as per group of 32. The codes are used in
    /// place, without a copy: a weight that views a memory-mapped file keeps it mapped.
    ///
    /// - Throws: ``LayerError`` when the shape is not 2-D, the scheme's codes are not 8-bit, or
    ///   the bias count is not `outFeatures`.
    public init(weight: QuantizedWeight, bias: [Float]? = nil) throws(LayerError) {
        let shape = weight.shape
        guard shape.count == 2, shape[0] > 0, shape[1] > 0, weight.scheme.bitsPerCode == 8 else {
            throw .weightShapeMismatch(
                expected: [max(shape.first ?? 1, 1), max(shape.dropFirst().reduce(1, *), 1)], actual: shape)
        }
        guard inFeaturesDivides(weight.granularity, shape[1]) else {
            throw .quantization(.invalidGroupSize(weight.granularity.groupSize ?? 0))
        }
        if let bias, bias.count != shape[0] {
            throw .biasCountMismatch(expected: shape[0], actual: bias.count)
        }
        self.inFeatures = shape[1]
        self.outFeatures = shape[0]
        self.quantizedWeight = weight
        self.values = WeightBuffer(bytes: weight.codes.unretainedBytes, owner: weight.codes.owner)
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
        let quantized: QuantizedWeight
        do {
            quantized = try SymmetricInt8(granularity: granularity).quantize(weight)
        } catch {
            throw .quantization(error)
        }
        quantizedWeight = quantized
        values = WeightBuffer(bytes: quantized.codes.unretainedBytes, owner: quantized.codes.owner)
        packForActivationQuantization()
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
        quantizedWeight?.int8Codes
    }

    /// Computes `input · (q × scale)ᵀ + b` for an input of shape `[..., inFeatures]`.
    ///
    /// - Returns: a tensor of shape `[..., outFeatures]`.
    /// - Throws: ``LayerError/notQuantized(inFeatures:outFeatures:)`` before the weights are
    ///   set, ``LayerError/inputShapeMismatch(inFeatures:actual:)`` for a wrong input shape.
    public func forward(_ input: FloatTensor) throws(LayerError) -> FloatTensor {
        guard let values, let quantizedWeight else {
            throw .notQuantized(inFeatures: inFeatures, outFeatures: outFeatures)
        }
        let granularity = quantizedWeight.granularity
        if quantizesActivations, let packedWeights {
            return try forwardQuantizingActivations(input, packed: packedWeights, granularity: granularity)
        }
        return try quantizedWeight.scales.withUnsafeBufferPointer { (scalePointer) throws(LayerError) -> FloatTensor in
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

/// Whether a granularity's groups tile rows of `inFeatures` values.
private func inFeaturesDivides(_ granularity: Granularity, _ inFeatures: Int) -> Bool {
    guard case .perGroup(let size) = granularity else { return true }
    return size > 0 && inFeatures % size == 0
}
