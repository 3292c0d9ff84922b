import CSwiftQuantKernels
import SwiftQuantCore
import SwiftQuantKernels

// y = x · Wᵀ for a row-major weight W of shape [outFeatures, inFeatures], stored either as
// Float32 or as int8 with Float32 scales. The arithmetic runs in CSwiftQuantKernels, one copy per
// instruction set chosen at run time (see ``KernelISA``): int8 weights are widened to Float in
// registers, 16 at a time, and W is never copied or expanded. Swift keeps the threading: each
// thread owns a contiguous range of output rows, and every (row, batch row) pair is computed by
// the same sequence of operations wherever its range starts, so results do not depend on the
// thread count or the instruction set.

/// How the scales of a weight matrix apply.
enum ScaleLayout {
    /// Float weights: no scales.
    case none
    /// One scale for the whole matrix.
    case perTensor(Float)
    /// One scale per output row.
    case perRow(UnsafePointer<Float>)
    /// One scale per `size` consecutive weights of a row; `scales` is `[rows, columns / size]`.
    case perGroup(UnsafePointer<Float>, size: Int)
}

/// The storage type of a weight matrix, as the kernels read it.
protocol WeightRows {
    static var kind: sqk_weights { get }
}

struct Int8Rows: WeightRows {
    static var kind: sqk_weights { SQK_WEIGHTS_I8 }
}

struct Float32Rows: WeightRows {
    static var kind: sqk_weights { SQK_WEIGHTS_F32 }
}

/// The operands of one multiplication, as raw pointers the worker threads share.
struct MatrixProduct<Weights: WeightRows>: @unchecked Sendable {
    let weights: Weights
    /// Row-major `[outFeatures, inFeatures]`.
    let weightBase: UnsafeRawPointer
    let scales: ScaleLayout
    /// Row-major `[batch, inFeatures]`.
    let input: UnsafePointer<Float>
    /// Row-major `[batch, outFeatures]`.
    let output: UnsafeMutablePointer<Float>
    let bias: UnsafePointer<Float>?
    let batch: Int
    let inFeatures: Int
    let outFeatures: Int
    var isa: KernelISA = .active

    /// The product as the C kernels take it.
    private var description: sqk_matmul {
        var product = sqk_matmul(
            weights: weightBase, weight_kind: Int32(Weights.kind.rawValue), scale_kind: Int32(SQK_SCALES_NONE.rawValue),
            scales: nil, tensor_scale: 1, group_size: 1, input: input, output: output, bias: bias,
            batch: batch, in_features: inFeatures, out_features: outFeatures)
        switch scales {
        case .none:
            break
        case .perTensor(let scale):
            product.scale_kind = Int32(SQK_SCALES_TENSOR.rawValue)
            product.tensor_scale = scale
        case .perRow(let rowScales):
            product.scale_kind = Int32(SQK_SCALES_ROW.rawValue)
            product.scales = rowScales
        case .perGroup(let groupScales, let size):
            product.scale_kind = Int32(SQK_SCALES_GROUP.rawValue)
            product.scales = groupScales
            product.group_size = size
        }
        return product
    }

    package func run() {
        guard batch > 0, outFeatures > 0 else { return }
        let product = description
        let isa = isa.rawValue
        // Small products stay on one thread; the split costs more than it saves.
        let work = batch * inFeatures * outFeatures
        let minimumRows = work < 1 << 20 ? outFeatures : max(4, (1 << 16) / max(1, batch * inFeatures))
        // Split in whole groups of 4 rows, so only the last range has rows outside a register tile.
        let groups = (outFeatures + 3) / 4
        parallelRanges(groups, minimumChunk: (minimumRows + 3) / 4) { range in
            withUnsafePointer(to: product) { pointer in
                sqk_matmul_rows(isa, pointer, range.lowerBound * 4, min(outFeatures, range.upperBound * 4))
            }
        }
    }
}
