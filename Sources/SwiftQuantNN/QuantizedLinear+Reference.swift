import SwiftQuantCore
import SwiftQuantKernels

// rotalabs_accel's `QuantizedLinear` module API on ``QuantizedLinear``: the attribute names
// `weight_int8` / `weight_scale`, quantizing Float16/BFloat16 weights in their own dtype, and a
// `forward` that returns the input's dtype, computed the way the reference computes it.

extension QuantizedLinear {
    /// The reference's `weight_int8`: the stored int8 codes, `[outFeatures, inFeatures]`.
    ///
    /// Before quantization it is all zeros, as the reference's buffer is. Its
    /// `SwiftQuantKernels.Int8Tensor.scaleLayout` says how ``weightScale`` applies, so it
    /// bridges back through `SwiftQuantKernels.QuantizedTensor.init(_:scale:)`.
    public var weightInt8: Int8Tensor {
        let shape = [max(outFeatures, 0), max(inFeatures, 0)]
        guard let weightValues, let granularity else {
            return Int8Tensor(uncheckedShape: shape, storage: [Int8](repeating: 0, count: shape[0] * shape[1]), layout: .reduced(dimension: 1))
        }
        let layout: Int8ScaleLayout
        switch granularity {
        case .perTensor: layout = .perTensor
        case .perChannel: layout = .reduced(dimension: 1)
        case .perGroup: layout = .unknown
        }
        return Int8Tensor(uncheckedShape: shape, storage: weightValues, layout: layout)
    }

    /// The reference's `weight_scale`: the stored Float32 scales.
    ///
    /// Shape `[outFeatures]` per channel (the reference's only layout, and all ones before
    /// quantization, as its buffer), `[]` per tensor, `[outFeatures, inFeatures / size]` per group.
    public var weightScale: FloatTensor {
        switch granularity {
        case nil:
            return FloatTensor(uncheckedShape: [max(outFeatures, 0)], storage: [Float](repeating: 1, count: max(outFeatures, 0)))
        case .perTensor?:
            return FloatTensor(uncheckedShape: [], storage: scales)
        case .perChannel?:
            return FloatTensor(uncheckedShape: [outFeatures], storage: scales)
        case .perGroup(let size)?:
            return FloatTensor(uncheckedShape: [outFeatures, inFeatures / size], storage: scales)
        }
    }

    /// A layer from the mirror's `(quantized, scale)`, through the checked bridge
    /// `QuantizedWeight.init(_:scale:)`: per-column scales are refused.
    ///
    /// - Throws: ``LayerError/quantization(_:)`` wrapping
    ///   `SwiftQuantKernels.KernelError.unbridgeableScales(shape:scaleShape:layout:)`, and what
    ///   ``init(weight:bias:)`` throws.
    public init(quantized: Int8Tensor, scale: FloatTensor, bias: [Float]? = nil) throws(LayerError) {
        let weight: QuantizedWeight
        do {
            weight = try QuantizedWeight(quantized, scale: scale)
        } catch {
            throw .quantization(error)
        }
        try self.init(weight: weight, bias: bias)
    }

    /// `quantize_weights(weight)` for a Float32, Float16 or BFloat16 weight: per channel, in the
    /// weight's dtype as `SwiftQuantKernels.quantizeWeightPerChannel(_:)-(TypedFloatTensor)`
    /// computes (so a Float16 weight gets rotalabs-accel's codes and scales bit for bit).
    ///
    /// - Throws: ``LayerError/weightShapeMismatch(expected:actual:)`` unless the weight is
    ///   `[outFeatures, inFeatures]` (the reference asserts it), ``LayerError/quantization(_:)``.
    public mutating func quantizeWeights(_ weight: TypedFloatTensor) throws(LayerError) {
        guard inFeatures > 0, outFeatures > 0 else {
            throw .invalidFeatureCount(inFeatures: inFeatures, outFeatures: outFeatures)
        }
        guard weight.shape == [outFeatures, inFeatures] else {
            throw .weightShapeMismatch(expected: [outFeatures, inFeatures], actual: weight.shape)
        }
        let result: (quantized: Int8Tensor, scales: FloatTensor)
        do {
            result = try quantizeWeightPerChannel(weight)
        } catch {
            throw .quantization(error)
        }
        let quantized: QuantizedWeight
        do {
            quantized = try QuantizedWeight(result.quantized, scale: result.scales)
        } catch {
            throw .quantization(error)
        }
        self = try QuantizedLinear(weight: quantized, bias: bias)
    }

    /// `forward(x)` as the reference computes it, returning `x`'s dtype.
    ///
    /// The reference dequantizes the weight to `x.dtype` on every call
    /// (`W = (Float(q) × scale).to(x.dtype)`, each weight rounded once) and runs
    /// `F.linear(x, W, bias)` in that dtype. Here each output is accumulated in Double from the
    /// dtype's `x` and `W` values, the bias (rounded to the dtype, as on a `.half()` module) is
    /// added, and the sum is rounded once to the dtype. PyTorch's CPU kernels accumulate in
    /// Float32 in an order of their own, so results can differ from it in the last place; the
    /// dequantized weight itself is identical. For a Float32 input this differs from
    /// ``forward(_:)`` (the int8 kernel, which applies the scale after the dot product) by rounding only.
    ///
    /// - Throws: ``LayerError/notQuantized(inFeatures:outFeatures:)`` before quantization (the
    ///   reference raises `RuntimeError`), ``LayerError/inputShapeMismatch(inFeatures:actual:)``.
    public func forward(_ input: TypedFloatTensor) throws(LayerError) -> TypedFloatTensor {
        guard let weightValues, let granularity else {
            throw .notQuantized(inFeatures: inFeatures, outFeatures: outFeatures)
        }
        guard input.shape.count >= 1, input.shape.last == inFeatures else {
            throw .inputShapeMismatch(inFeatures: inFeatures, actual: input.shape)
        }
        let dtype = input.dtype
        let batch = input.elementCount / inFeatures
        let weight = dequantizedWeight(weightValues, granularity: granularity, dtype: dtype)
        let bias = bias.map { $0.map { roundedFloat($0, to: dtype) } }
        var output = [Float](repeating: 0, count: batch * outFeatures)
        let (inFeatures, outFeatures) = (inFeatures, outFeatures)
        input.storage.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let result = out.baseAddress!
                    parallelRanges(batch * outFeatures, minimumChunk: max(1, 32_768 / inFeatures)) { range in
                        for slot in range {
                            let (row, o) = slot.quotientAndRemainder(dividingBy: outFeatures)
                            var sum = 0.0
                            for k in 0..<inFeatures {
                                sum += Double(x[row * inFeatures + k]) * Double(w[o * inFeatures + k])
                            }
                            if let bias { sum += Double(bias[o]) }
                            result[slot] = roundedFloat(Float(sum), to: dtype, from: sum)
                        }
                    }
                }
            }
        }
        var shape = input.shape
        shape[shape.count - 1] = outFeatures
        return TypedFloatTensor(uncheckedDType: dtype, shape: shape, storage: output)
    }

    /// `(Float(q) × scale).to(dtype)`, row-major `[outFeatures, inFeatures]`.
    func dequantizedWeight(_ codes: [Int8], granularity: Granularity, dtype: FloatEncoding) -> [Float] {
        let scales = scales
        let inFeatures = inFeatures
        return codes.indices.map { index in
            let scale: Float
            switch granularity {
            case .perTensor: scale = scales[0]
            case .perChannel: scale = scales[index / inFeatures]
            case .perGroup(let size):
                let (row, column) = index.quotientAndRemainder(dividingBy: inFeatures)
                scale = scales[row * (inFeatures / size) + column / size]
            }
            return roundedFloat(Float(codes[index]) * scale, to: dtype)
        }
    }
}

/// A Double sum rounded once to `dtype` (round to nearest even). Rounding through Float32
/// first could round twice the wrong way for an arbitrary Double, so BFloat16 is rounded
/// directly to its 8 significant bits (2⁻¹³³ spacing below 2⁻¹²⁶).
@inline(__always)
private func roundedFloat(_ single: Float, to dtype: FloatEncoding, from sum: Double) -> Float {
    switch dtype {
    case .float16:
        return Float(Float16(sum))
    case .bfloat16:
        guard sum.isFinite, sum != 0 else { return Float(sum) }
        let exponent = max(Int(sum.exponent), -126)
        let unit = Double(sign: .plus, exponent: exponent - 7, significand: 1)
        let result = (sum / unit).rounded(.toNearestOrEven) * unit
        // Beyond BFloat16's largest finite value (0x7F7F) it overflows to infinity.
        return abs(result) > 3.3895313892515355e38 ? (result < 0 ? -.infinity : .infinity) : Float(result)
    default:
        return roundedFloat(single, to: dtype)
    }
}
