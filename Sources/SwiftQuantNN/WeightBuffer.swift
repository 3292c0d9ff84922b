import SwiftQuantCore
import SwiftQuantKernels

/// Row-major weight bytes a layer reads: either its own heap buffer or a view into a
/// memory-mapped checkpoint, kept alive by `owner`.
package struct WeightBuffer: @unchecked Sendable {
    package let bytes: UnsafeRawBufferPointer
    package let owner: AnyObject

    package init(bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
    }

    /// Copies `values` into a 64-byte aligned buffer.
    package init<Element>(copying values: [Element]) {
        let owned = values.withUnsafeBytes { OwnedBytes(copying: $0) }
        self.init(bytes: owned.bytes, owner: owned)
    }

    /// A zero-copy view of tensor data (a mapped file's pages or a decoded buffer).
    package init(_ data: TensorData) {
        self.init(bytes: data.bytes, owner: data.owner)
    }

    package func elements<Element>(as type: Element.Type) -> [Element] {
        Array(bytes.bindMemory(to: Element.self))
    }
}

/// Flattens every leading dimension of `shape` into a batch, checking the last one.
func batchRows(of shape: [Int], inFeatures: Int) throws(LayerError) -> Int {
    guard let last = shape.last, last == inFeatures, let count = shape.checkedElementCount else {
        throw .inputShapeMismatch(inFeatures: inFeatures, actual: shape)
    }
    return count / inFeatures
}

/// Runs a product into a new tensor shaped like `input` with its last dimension replaced.
func runProduct<Weights: WeightRows>(
    _ weights: Weights, buffer: WeightBuffer, scales: ScaleLayout, bias: [Float]?,
    input: FloatTensor, inFeatures: Int, outFeatures: Int
) throws(LayerError) -> FloatTensor {
    let batch = try batchRows(of: input.shape, inFeatures: inFeatures)
    return computeProduct(weights, buffer: buffer, scales: scales, bias: bias, input: input, batch: batch,
                          inFeatures: inFeatures, outFeatures: outFeatures)
}

/// ``runProduct`` after the input shape has been checked: `batch × inFeatures` values.
func computeProduct<Weights: WeightRows>(
    _ weights: Weights, buffer: WeightBuffer, scales: ScaleLayout, bias: [Float]?,
    input: FloatTensor, batch: Int, inFeatures: Int, outFeatures: Int
) -> FloatTensor {
    var shape = input.shape
    shape[shape.count - 1] = outFeatures
    // An empty batch (a leading 0 dimension) has nothing to compute and no storage to point at.
    guard batch > 0 else { return FloatTensor(uncheckedShape: shape, storage: []) }
    let output = [Float](unsafeUninitializedCapacity: batch * outFeatures) { out, initialized in
        input.storage.withUnsafeBufferPointer { x in
            withOptionalPointer(bias) { biasPointer in
                MatrixProduct(
                    weights: weights, weightBase: buffer.bytes.baseAddress!, scales: scales,
                    input: x.baseAddress!, output: out.baseAddress!, bias: biasPointer,
                    batch: batch, inFeatures: inFeatures, outFeatures: outFeatures
                ).run()
            }
        }
        initialized = batch * outFeatures
    }
    withExtendedLifetime(buffer.owner) {}
    return FloatTensor(uncheckedShape: shape, storage: output)
}

func withOptionalPointer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}
