import CSwiftQuantKernels
import SwiftQuantCore

// The parallel drivers of the conversion kernels in CSwiftQuantKernels (CSwiftQuantConvert.h).
// Swift splits the work into fixed pieces and threads; each piece runs one C call with the
// variant chosen on the calling thread (``KernelISA/active``, read before any worker starts, so
// a test's ``KernelISA/with(_:_:)`` reaches the workers too). Every variant gives the same bits.

extension FloatEncoding {
    /// The `sqk_encoding` value of this encoding.
    var kernelEncoding: Int32 {
        switch self {
        case .float16: Int32(SQK_ENCODING_F16.rawValue)
        case .bfloat16: Int32(SQK_ENCODING_BF16.rawValue)
        case .float32: Int32(SQK_ENCODING_F32.rawValue)
        case .float64: Int32(SQK_ENCODING_F64.rawValue)
        }
    }
}

/// Encoded values in memory (little-endian, possibly unaligned).
struct EncodedValues {
    let base: UnsafeRawPointer
    let encoding: FloatEncoding
    let count: Int

    /// One value decoded to Float32 (for error messages and scans).
    func value(at index: Int) -> Float {
        var result: Float = 0
        sqk_decode_range(KernelISA.scalar.rawValue, encoding.kernelEncoding, base + index * encoding.byteWidth, 0, 1, &result)
        return result
    }

    /// The first index in `range` holding NaN or ±inf.
    func firstNonFinite(in range: Range<Int>) -> Int? {
        range.first { !value(at: $0).isFinite }
    }

    /// The error for the first NaN or infinity in `range`, which must hold one.
    func nonFiniteError(in range: Range<Int>) -> KernelError {
        let index = firstNonFinite(in: range)!
        return .nonFiniteValue(index: index, value: value(at: index))
    }
}

/// Decodes all of `source` into `output`, in `reductionChunk` pieces on the kernel threads.
func kernelDecode(_ source: EncodedValues, into output: UnsafeMutablePointer<Float>) {
    let isa = KernelISA.active.rawValue
    let encoding = source.encoding.kernelEncoding
    parallelRanges(reductionChunkCount(source.count)) { chunks in
        let start = chunks.lowerBound * reductionChunk
        let end = min(source.count, chunks.upperBound * reductionChunk)
        sqk_decode_range(isa, encoding, source.base, start, end, output)
    }
}

/// max |w| over all of `source`: chunk maxima in parallel, combined by bit pattern (exact and
/// order-free; NaN wins over inf over every finite value).
func kernelAbsmax(_ source: EncodedValues) -> Float {
    let isa = KernelISA.active.rawValue
    let encoding = source.encoding.kernelEncoding
    let chunks = reductionChunkCount(source.count)
    guard chunks > 1 else { return Float(bitPattern: sqk_absmax_bits(isa, encoding, source.base, 0, source.count)) }
    var partial = [UInt32](repeating: 0, count: chunks)
    partial.withUnsafeMutableBufferPointer { partial in
        parallelRanges(chunks) { range in
            for chunk in range {
                let values = reductionChunkRange(chunk, count: source.count)
                partial[chunk] = sqk_absmax_bits(isa, encoding, source.base, values.lowerBound, values.upperBound)
            }
        }
    }
    return Float(bitPattern: partial.max() ?? 0)
}

/// Symmetric INT8 quantization of `source`: the one implementation behind every entry point.
func kernelQuantize(
    _ source: EncodedValues, shape: [Int], granularity: Granularity,
    values: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    if case .perGroup(let size) = granularity, size <= 0 { throw .invalidGroupSize(size) }
    precondition(shape.checkedElementCount == source.count, "shape does not match the value count")
    precondition(values.count == source.count, "values buffer does not match the value count")
    precondition(
        granularity == effectiveGranularity(for: shape, requested: granularity),
        "per-group size must divide the row length; pass effectiveGranularity(for:requested:)")
    precondition(scales.count == scaleCount(shape: shape, granularity: granularity), "scales buffer has the wrong size")
    guard source.count > 0 else {
        for index in scales.indices { scales[index] = 1 }
        return
    }
    let isa = KernelISA.active.rawValue
    let encoding = source.encoding.kernelEncoding
    let output = values.baseAddress!
    let scaleOutput = scales.baseAddress!
    let (rows, columns) = matrixView(of: shape)
    let blockLength: Int
    switch granularity {
    case .perTensor:
        let magnitude = kernelAbsmax(source)
        guard magnitude.isFinite else { throw source.nonFiniteError(in: 0..<source.count) }
        let scale = symmetricScale(absmax: magnitude)
        scaleOutput.pointee = scale
        parallelRanges(reductionChunkCount(source.count)) { chunks in
            let start = chunks.lowerBound * reductionChunk
            let end = min(source.count, chunks.upperBound * reductionChunk)
            sqk_quantize_range(isa, encoding, source.base, start, end, scale, output)
        }
        return
    case .perChannel: blockLength = columns
    case .perGroup(let size): blockLength = size
    }
    // One scale per run of `blockLength` values; rows run in parallel. A block with a NaN or inf
    // gets a NaN scale as a marker; afterwards the first marked block holds the first bad index.
    let blocksPerRow = columns / blockLength
    parallelRanges(rows, minimumChunk: max(1, minimumValuesPerTask / max(columns, 1))) { range in
        sqk_quantize_blocks(
            isa, encoding, source.base, blockLength, range.lowerBound * blocksPerRow, range.upperBound * blocksPerRow,
            output, scaleOutput)
    }
    if let bad = (0..<rows * blocksPerRow).first(where: { scales[$0].isNaN }) {
        throw source.nonFiniteError(in: bad * blockLength..<(bad + 1) * blockLength)
    }
}
