import CSwiftQuantKernels
import SwiftQuantCore
import SwiftQuantKernels

/// Int8 weights repacked for the W8A8 kernel (`sqk_w8a8_pack`): panels of 16 output columns,
/// 4 input bytes per column per step, plus each column's sum (which removes the +128 offset of
/// the activations exactly).
struct PackedW8A8Weights: @unchecked Sendable {
    /// Immutable after init.
    let bytes: OwnedBytes
    let columnSums: [Int32]
    /// Columns per activation scale (`nil`: per row) and each group's column sums.
    let groupSize: Int?
    let groupSums: [Int32]

    init(codes: WeightBuffer, outFeatures: Int, inFeatures: Int, groupSize: Int?) {
        let count = sqk_w8a8_packed_bytes(outFeatures, inFeatures)
        let packed = OwnedBytes(count: max(count, 64))
        let panels = (outFeatures + Int(SQK_W8A8_PANEL) - 1) / Int(SQK_W8A8_PANEL)
        columnSums = [Int32](unsafeUninitializedCapacity: panels * Int(SQK_W8A8_PANEL)) { sums, initialized in
            sqk_w8a8_pack(
                codes.bytes.baseAddress!.assumingMemoryBound(to: Int8.self), outFeatures, inFeatures,
                packed.pointer.assumingMemoryBound(to: Int8.self), sums.baseAddress)
            initialized = sums.count
        }
        let weights = codes.bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
        if let groupSize, groupSize > 0, groupSize % 4 == 0 {
            let groups = (inFeatures + groupSize - 1) / groupSize
            groupSums = [Int32](unsafeUninitializedCapacity: groups * panels * Int(SQK_W8A8_PANEL)) { sums, initialized in
                sqk_w8a8_group_sums(weights, outFeatures, inFeatures, groupSize, sums.baseAddress)
                initialized = sums.count
            }
        } else {
            groupSums = []
        }
        withExtendedLifetime(codes.owner) {}
        self.groupSize = groupSize
        bytes = packed
    }
}

extension QuantizedLinear {
    /// Builds ``packedWeights`` when W8A8 is on and the weights are per tensor or per channel;
    /// drops it otherwise.
    mutating func packForActivationQuantization() {
        guard quantizesActivations, let values, let granularity, granularity.groupSize == nil else {
            packedWeights = nil
            return
        }
        packedWeights = PackedW8A8Weights(
            codes: values, outFeatures: outFeatures, inFeatures: inFeatures, groupSize: activationGroupSize)
    }

    /// The W8A8 product (see ``quantizesActivations``): each input row quantized per row on the
    /// fly, then the blocked integer product on the packed weights.
    func forwardQuantizingActivations(
        _ input: FloatTensor, packed: PackedW8A8Weights, granularity: Granularity
    ) throws(LayerError) -> FloatTensor {
        let batch = try batchRows(of: input.shape, inFeatures: inFeatures)
        var shape = input.shape
        shape[shape.count - 1] = outFeatures
        guard batch > 0 else { return FloatTensor(uncheckedShape: shape, storage: []) }
        if let size = packed.groupSize, size <= 0 || size % 4 != 0 {
            throw .quantization(.invalidGroupSize(size))
        }
        // Groups at least as wide as the row are one scale per row.
        let group = min(packed.groupSize ?? inFeatures, inFeatures)
        let groups = (inFeatures + group - 1) / group
        let grouped = groups > 1
        let isa = KernelISA.active.rawValue
        // Plain locals: the closures below capture no part of `self`.
        let (inFeatures, outFeatures, weightScaleValues, biasValues) = (inFeatures, outFeatures, scales, bias)
        let padded = (inFeatures + 3) / 4 * 4
        var codes = [UInt8](repeating: 0, count: batch * padded)
        var inputScales = [Float](repeating: 0, count: batch * groups)
        let badRow = input.storage.withUnsafeBufferPointer { x in
            codes.withUnsafeMutableBufferPointer { q in
                inputScales.withUnsafeMutableBufferPointer { s in
                    sqk_w8a8_quantize_rows(isa, x.baseAddress, inFeatures, group, q.baseAddress, s.baseAddress, 0, batch)
                }
            }
        }
        if badRow >= 0 {
            // The reference quantizer names the first non-finite value.
            do {
                _ = try quantizeSymmetric(
                    FloatTensor(uncheckedShape: [batch, inFeatures], storage: input.storage), granularity: .perChannel)
            } catch {
                throw .quantization(error)
            }
            throw .quantization(.nonFiniteValue(index: badRow * inFeatures, value: .nan))
        }
        let kind = granularity == .perTensor ? SQK_SCALES_TENSOR : SQK_SCALES_ROW
        let output = [Float](unsafeUninitializedCapacity: batch * outFeatures) { out, initialized in
            codes.withUnsafeBufferPointer { x in
                inputScales.withUnsafeBufferPointer { inputScalePointer in
                    weightScaleValues.withUnsafeBufferPointer { weightScales in
                        packed.columnSums.withUnsafeBufferPointer { sums in
                          packed.groupSums.withUnsafeBufferPointer { groupSums in
                            withOptionalPointer(biasValues) { biasPointer in
                                let product = sqk_w8a8_packed_product(
                                    packed: packed.bytes.pointer.assumingMemoryBound(to: Int8.self),
                                    column_sums: sums.baseAddress, scale_kind: Int32(kind.rawValue),
                                    weight_scales: weightScales.baseAddress, tensor_scale: weightScales.first ?? 1,
                                    input: x.baseAddress, input_scales: inputScalePointer.baseAddress,
                                    group_size: grouped ? group : 0, group_sums: grouped ? groupSums.baseAddress : nil,
                                    output: out.baseAddress, bias: biasPointer,
                                    batch: batch, in_features: inFeatures, out_features: outFeatures)
                                // Whole groups of 4 panels (64 columns) per range; small products stay on one thread.
                                let panels = (outFeatures + Int(SQK_W8A8_PANEL) - 1) / Int(SQK_W8A8_PANEL)
                                let groups = (panels + 3) / 4
                                let minimumGroups = batch * inFeatures * outFeatures < 1 << 20 ? groups : 1
                                parallelRanges(groups, minimumChunk: minimumGroups) { range in
                                    withUnsafePointer(to: product) { pointer in
                                        sqk_w8a8_packed_panels(isa, pointer, range.lowerBound * 4, min(panels, range.upperBound * 4))
                                    }
                                }
                            }
                          }
                        }
                    }
                }
            }
            initialized = batch * outFeatures
        }
        withExtendedLifetime(packed.bytes) {}
        return FloatTensor(uncheckedShape: shape, storage: output)
    }
}
