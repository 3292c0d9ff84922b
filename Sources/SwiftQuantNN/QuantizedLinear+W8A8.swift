import CSwiftQuantKernels
import SwiftQuantCore
import SwiftQuantKernels

extension QuantizedLinear {
    /// The W8A8 product (see ``quantizesActivations``), or `nil` for per-group weights, which
    /// take the weight-only path.
    func forwardQuantizingActivations(
        _ input: FloatTensor, values: WeightBuffer, granularity: Granularity
    ) throws(LayerError) -> FloatTensor? {
        let kind: sqk_scales
        switch granularity {
        case .perTensor: kind = SQK_SCALES_TENSOR
        case .perChannel: kind = SQK_SCALES_ROW
        case .perGroup: return nil
        }
        let batch = try batchRows(of: input.shape, inFeatures: inFeatures)
        var shape = input.shape
        shape[shape.count - 1] = outFeatures
        guard batch > 0 else { return FloatTensor(uncheckedShape: shape, storage: []) }
        // Each activation row is a "channel" of the [batch, inFeatures] matrix: the reference
        // quantizer gives its int8 values and scale.
        let activations: QuantizedWeight
        do {
            activations = try quantizeSymmetric(
                FloatTensor(uncheckedShape: [batch, inFeatures], storage: input.storage), granularity: .perChannel)
        } catch {
            throw .quantization(error)
        }
        // x + 128 as unsigned bytes: what the integer dot-product instructions multiply.
        let offset = activations.int8Codes.map { UInt8(bitPattern: $0) ^ 0x80 }
        let isa = KernelISA.active.rawValue
        // Plain locals: the closures below capture no part of `self`.
        let (inFeatures, outFeatures, weightScaleValues, biasValues) = (inFeatures, outFeatures, scales, bias)
        let weightBase = values.bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
        let output = [Float](unsafeUninitializedCapacity: batch * outFeatures) { out, initialized in
            offset.withUnsafeBufferPointer { x in
                activations.scales.withUnsafeBufferPointer { inputScales in
                    weightScaleValues.withUnsafeBufferPointer { weightScales in
                        withOptionalPointer(biasValues) { biasPointer in
                            let product = sqk_w8a8(
                                weights: weightBase,
                                scale_kind: Int32(kind.rawValue), weight_scales: weightScales.baseAddress,
                                tensor_scale: weightScales.first ?? 1, input: x.baseAddress,
                                input_scales: inputScales.baseAddress, output: out.baseAddress, bias: biasPointer,
                                batch: batch, in_features: inFeatures, out_features: outFeatures)
                            // Whole 4-row tiles per range; small products stay on one thread.
                            let groups = (outFeatures + 3) / 4
                            let minimumGroups = batch * inFeatures * outFeatures < 1 << 18 ? groups : 16
                            parallelRanges(groups, minimumChunk: minimumGroups) { range in
                                withUnsafePointer(to: product) { pointer in
                                    sqk_w8a8_rows(isa, pointer, range.lowerBound * 4, min(outFeatures, range.upperBound * 4))
                                }
                            }
                        }
                    }
                }
            }
            initialized = batch * outFeatures
        }
        withExtendedLifetime(values.owner) {}
        return FloatTensor(uncheckedShape: shape, storage: output)
    }
}
