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

    /// The W8A8 product (see ``quantizesActivations``): the input rows quantized on the fly,
    /// then the blocked integer product on the packed weights.
    func forwardQuantizingActivations(
        _ input: FloatTensor, packed: PackedW8A8Weights, granularity: Granularity
    ) throws(LayerError) -> FloatTensor {
        let activations = try quantizeActivations(input, groupSize: packed.groupSize)
        return product(activations, packed: packed, granularity: granularity)
    }

    /// `forward` followed by ``applyGELU(_:)`` on the output, with GELU applied by each worker to
    /// the columns it has just computed (bit for bit the same values, one pass less over memory);
    /// `nil` unless `layer` runs W8A8.
    package static func forwardApplyingGELU(_ input: FloatTensor, layer: any LinearLayer) throws(LayerError) -> FloatTensor? {
        guard let quantized = layer as? QuantizedLinear, quantized.quantizesActivations,
              let packed = quantized.packedWeights, let granularity = quantized.granularity
        else { return nil }
        let activations = try quantized.quantizeActivations(input, groupSize: packed.groupSize)
        return quantized.product(activations, packed: packed, granularity: granularity, appliesGELU: true)
    }

    /// `forward` of several W8A8 layers on the same input (attention's Q, K, V), quantizing
    /// the input once and running all the products in one parallel pass; `nil` unless every
    /// layer runs W8A8 with the same activation groups.
    package static func forwardSharingActivations(
        _ input: FloatTensor, layers: [any LinearLayer]
    ) throws(LayerError) -> [FloatTensor]? {
        var jobs: [ProductJob] = []
        for layer in layers {
            guard let quantized = layer as? QuantizedLinear, quantized.quantizesActivations,
                  let weights = quantized.packedWeights, let granularity = quantized.granularity,
                  quantized.inFeatures == layers[0].inFeatures, weights.groupSize == jobs.first?.packed.groupSize ?? weights.groupSize
            else { return nil }
            jobs.append(ProductJob(layer: quantized, packed: weights, granularity: granularity))
        }
        guard let first = jobs.first else { return nil }
        let activations = try first.layer.quantizeActivations(input, groupSize: first.packed.groupSize)
        guard activations.batch > 0 else {
            return jobs.map { $0.layer.product(activations, packed: $0.packed, granularity: $0.granularity) }
        }
        var outputs = [FloatTensor?](repeating: nil, count: jobs.count)
        runProducts(jobs[...], activations: activations, described: [], outputs: &outputs)
        return outputs.map { $0! }
    }

    /// One layer's share of ``forwardSharingActivations(_:layers:)``.
    struct ProductJob {
        let layer: QuantizedLinear
        let packed: PackedW8A8Weights
        let granularity: Granularity
    }

    /// Describes the products of `jobs` one by one (each description holds pointers valid only
    /// inside its closure), then runs all of them in one parallel pass over their panels.
    private static func runProducts(
        _ jobs: ArraySlice<ProductJob>, activations: QuantizedActivations, described: [sqk_w8a8_packed_product],
        outputs: inout [FloatTensor?]
    ) {
        guard let job = jobs.first else {
            runPanels(of: described, inFeatures: Int(described.first?.in_features ?? 0), appliesGELU: false)
            return
        }
        let count = activations.batch * job.layer.outFeatures
        let storage = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            job.layer.describeProduct(activations, packed: job.packed, granularity: job.granularity, output: out.baseAddress!) { product in
                runProducts(jobs.dropFirst(), activations: activations, described: described + [product], outputs: &outputs)
            }
            initialized = count
        }
        var shape = activations.shape
        shape[shape.count - 1] = job.layer.outFeatures
        outputs[jobs.startIndex] = FloatTensor(uncheckedShape: shape, storage: storage)
    }

    /// Runs `products` (same batch and input) split into pieces of 4 panels (64 columns) over
    /// the workers, then GELU on each piece's columns when asked; pieces are independent, so the
    /// split never changes the numbers.
    private static func runPanels(of products: [sqk_w8a8_packed_product], inFeatures: Int, appliesGELU: Bool) {
        let panel = Int(SQK_W8A8_PANEL)
        let panels = products.map { (Int($0.out_features) + panel - 1) / panel }
        let pieces = panels.map { ($0 + 3) / 4 }
        let starts = pieces.reduce(into: [0]) { $0.append($0.last! + $1) }
        let total = starts.last!
        guard total > 0 else { return }
        let outFeatures = products.reduce(0) { $0 + Int($1.out_features) }
        // Small products stay on one thread.
        let batch = Int(products[0].batch)
        let minimum = batch * inFeatures * outFeatures < 1 << 20 ? total : 1
        let isa = KernelISA.active.rawValue
        parallelRanges(total, minimumChunk: minimum) { range in
            for (index, product) in products.enumerated() {
                let lower = max(range.lowerBound, starts[index]) - starts[index]
                let upper = min(range.upperBound, starts[index + 1]) - starts[index]
                guard lower < upper else { continue }
                withUnsafePointer(to: product) { pointer in
                    sqk_w8a8_packed_panels(isa, pointer, lower * 4, min(panels[index], upper * 4))
                }
                if appliesGELU {
                    let width = Int(product.out_features)
                    let (first, last) = (lower * 4 * panel, min(width, upper * 4 * panel))
                    for row in 0..<batch {
                        sqk_gelu(isa, product.output, row * width + first, row * width + last)
                    }
                }
            }
        }
    }

    /// Input rows quantized for ``product(_:packed:granularity:)``.
    struct QuantizedActivations {
        var shape: [Int]
        let batch: Int
        /// Columns per scale (`inFeatures` for one per row) and scales per row.
        let group: Int
        let groups: Int
        /// `[batch, ceil(inFeatures / 4) × 4]`, each `q + 128`.
        let codes: [UInt8]
        /// `[batch, groups]`.
        let scales: [Float]
    }

    func quantizeActivations(_ input: FloatTensor, groupSize: Int?) throws(LayerError) -> QuantizedActivations {
        let batch = try batchRows(of: input.shape, inFeatures: inFeatures)
        if let size = groupSize, size <= 0 || size % 4 != 0 {
            throw .quantization(.invalidGroupSize(size))
        }
        // Groups at least as wide as the row are one scale per row.
        let group = min(groupSize ?? inFeatures, inFeatures)
        let groups = (inFeatures + group - 1) / group
        let isa = KernelISA.active.rawValue
        let inFeatures = inFeatures
        let padded = (inFeatures + 3) / 4 * 4
        var codes = [UInt8](repeating: 0, count: batch * padded)
        var inputScales = [Float](repeating: 0, count: batch * groups)
        let failed = SendableFlag()
        input.storage.withUnsafeBufferPointer { x in
            codes.withUnsafeMutableBufferPointer { q in
                inputScales.withUnsafeMutableBufferPointer { s in
                    // Rows are independent; each range writes only its own rows.
                    let (xBase, qBase, sBase) = (x.baseAddress, q.baseAddress, s.baseAddress)
                    parallelRanges(batch, minimumChunk: max(1, (1 << 15) / max(1, inFeatures))) { rows in
                        let bad = sqk_w8a8_quantize_rows(
                            isa, xBase, inFeatures, group, qBase, sBase, rows.lowerBound, rows.upperBound)
                        if bad >= 0 { failed.set() }
                    }
                }
            }
        }
        if failed.isSet {
            // The reference quantizer names the first non-finite value.
            do {
                _ = try quantizeSymmetric(
                    FloatTensor(uncheckedShape: [batch, inFeatures], storage: input.storage), granularity: .perChannel)
            } catch {
                throw .quantization(error)
            }
            throw .quantization(.nonFiniteValue(index: 0, value: .nan))
        }
        return QuantizedActivations(
            shape: input.shape, batch: batch, group: group, groups: groups, codes: codes, scales: inputScales)
    }

    /// The integer product of quantized input rows with the packed weights.
    func product(
        _ activations: QuantizedActivations, packed: PackedW8A8Weights, granularity: Granularity, appliesGELU: Bool = false
    ) -> FloatTensor {
        var shape = activations.shape
        shape[shape.count - 1] = outFeatures
        let batch = activations.batch
        guard batch > 0 else { return FloatTensor(uncheckedShape: shape, storage: []) }
        let output = [Float](unsafeUninitializedCapacity: batch * outFeatures) { out, initialized in
            describeProduct(activations, packed: packed, granularity: granularity, output: out.baseAddress!) { product in
                Self.runPanels(of: [product], inFeatures: inFeatures, appliesGELU: appliesGELU)
            }
            initialized = batch * outFeatures
        }
        return FloatTensor(uncheckedShape: shape, storage: output)
    }

    /// Calls `body` with the C description of the product of `activations` with `packed`,
    /// writing `[batch, outFeatures]` to `output`; its pointers are valid only inside `body`.
    func describeProduct(
        _ activations: QuantizedActivations, packed: PackedW8A8Weights, granularity: Granularity,
        output: UnsafeMutablePointer<Float>, _ body: (sqk_w8a8_packed_product) -> Void
    ) {
        let (group, grouped) = (activations.group, activations.groups > 1)
        let kind = granularity == .perTensor ? SQK_SCALES_TENSOR : SQK_SCALES_ROW
        activations.codes.withUnsafeBufferPointer { x in
            activations.scales.withUnsafeBufferPointer { inputScalePointer in
                scales.withUnsafeBufferPointer { weightScales in
                    packed.columnSums.withUnsafeBufferPointer { sums in
                        packed.groupSums.withUnsafeBufferPointer { groupSums in
                            withOptionalPointer(bias) { biasPointer in
                                body(sqk_w8a8_packed_product(
                                    packed: packed.bytes.pointer.assumingMemoryBound(to: Int8.self),
                                    column_sums: sums.baseAddress, scale_kind: Int32(kind.rawValue),
                                    weight_scales: weightScales.baseAddress, tensor_scale: weightScales.first ?? 1,
                                    input: x.baseAddress, input_scales: inputScalePointer.baseAddress,
                                    group_size: grouped ? group : 0, group_sums: grouped ? groupSums.baseAddress : nil,
                                    output: output, bias: biasPointer,
                                    batch: activations.batch, in_features: inFeatures, out_features: outFeatures))
                            }
                        }
                    }
                }
            }
        }
        withExtendedLifetime(packed.bytes) {}
    }
}
