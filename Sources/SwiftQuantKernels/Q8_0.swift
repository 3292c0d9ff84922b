import CSwiftQuantKernels
import SwiftQuantCore
/// ggml's Q8_0 block format: 32 weights stored as an fp16 scale `d` followed by 32 int8 quants.
///
/// Rows are split into consecutive blocks, so a row's length must be a multiple of
/// ``blockLength``. These are ggml's semantics, not SwiftQuant's own INT8 format: the scale
/// is per 32 weights, quants round half away from zero by multiplying with `1/d`, and `d`
/// is stored as fp16.
public struct Q8_0: Sendable, Hashable {
    /// Weights per block (ggml's `QK8_0`).
    public static let blockLength = QuantizationDescriptor.q8_0BlockLength

    /// The scheme (it has no parameters).
    public init() {}
    /// Bytes per block: a 2-byte fp16 scale and 32 quants (`sizeof(block_q8_0)`).
    public static let blockByteCount = 34

    /// Bytes that `count` weights take, or `nil` when `count` does not fill whole blocks.
    public static func byteCount(elementCount count: Int) -> Int? {
        guard count >= 0, count % blockLength == 0 else { return nil }
        return count / blockLength * blockByteCount
    }
}

/// Quantizes `input` to Q8_0 blocks in `output`, bit-exact with ggml's `quantize_row_q8_0_ref`
/// (and so with gguf-py's `gguf.quants.quantize`).
///
/// Per block: `amax = max|x|`, `d = amax / 127`, `id = d != 0 ? 1/d : 0`,
/// `q = roundf(x × id)` (half away from zero, no clamp), and the block stores `d` rounded
/// to fp16 (nearest even) while the quants use the Float32 `d`. The one departure: when `d` is
/// so small (amax < 2^-121) that `1/d` overflows, ggml converts infinities to int8, which C
/// leaves undefined and x86 turns into 0; this writes 0 quants there on every machine.
///
/// Throws on the first NaN or infinite weight. Preconditions: `input.count` is a multiple of
/// 32 and `output.count == input.count / 32 × 34`. Runs the C kernels of the instruction set
/// chosen at run time (`SWIFTQUANT_ISA` can lower it) on `Parallelism.threads` threads.
public func quantizeQ8_0(
    _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer
) throws(KernelError) {
    precondition(input.count % Q8_0.blockLength == 0, "Q8_0 needs whole blocks of 32 values")
    precondition(output.count == input.count / Q8_0.blockLength * Q8_0.blockByteCount)
    guard let destination = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
    try kernelQuantizeQ8_0(
        input, codes: UnsafeMutableRawPointer(destination + 2).assumingMemoryBound(to: Int8.self),
        codeStride: Q8_0.blockByteCount, halfScales: destination, floatScales: nil)
}

/// Quantizes `input` to Q8_0 codes and scales in separate buffers, as a `QuantizedWeight`
/// holds them: `codes[i]` is the quant of `input[i]`, `scales[b]` is block `b`'s fp16 `d`
/// widened exactly to Float32. The same bits as ``quantizeQ8_0(_:into:)``, only laid out apart.
///
/// Preconditions: `input.count` is a multiple of 32, `codes.count == input.count` and
/// `scales.count == input.count / 32`.
public func quantizeQ8_0(
    _ input: UnsafeBufferPointer<Float>, codes: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>
) throws(KernelError) {
    precondition(input.count % Q8_0.blockLength == 0, "Q8_0 needs whole blocks of 32 values")
    precondition(codes.count == input.count && scales.count == input.count / Q8_0.blockLength)
    guard let codeBase = codes.baseAddress, let scaleBase = scales.baseAddress else { return }
    try kernelQuantizeQ8_0(input, codes: codeBase, codeStride: Q8_0.blockLength, halfScales: nil, floatScales: scaleBase)
}

/// The one Q8_0 implementation: blocks in fixed chunks on the kernel threads, each chunk
/// recording its first bad block in its own slot, so the error reported is the first bad
/// weight whatever the thread count.
private func kernelQuantizeQ8_0(
    _ input: UnsafeBufferPointer<Float>, codes: UnsafeMutablePointer<Int8>, codeStride: Int,
    halfScales: UnsafeMutablePointer<UInt8>?, floatScales: UnsafeMutablePointer<Float>?
) throws(KernelError) {
    let blocks = input.count / Q8_0.blockLength
    guard blocks > 0, let source = input.baseAddress else { return }
    let isa = KernelISA.active.rawValue
    let chunkBlocks = 1024
    let chunks = (blocks + chunkBlocks - 1) / chunkBlocks
    var firstBad = [Int](repeating: -1, count: chunks)
    firstBad.withUnsafeMutableBufferPointer { slots in
        parallelRanges(chunks, minimumChunk: 2) { chunkRange in
            for chunk in chunkRange {
                slots[chunk] = sqk_q8_0_blocks(
                    isa, source, chunk * chunkBlocks, min(blocks, (chunk + 1) * chunkBlocks), codes, codeStride,
                    halfScales, Q8_0.blockByteCount, floatScales)
            }
        }
    }
    if let bad = firstBad.first(where: { $0 >= 0 }) {
        for i in bad * Q8_0.blockLength..<(bad + 1) * Q8_0.blockLength where !input[i].isFinite {
            throw .nonFiniteValue(index: i, value: input[i])
        }
    }
}

/// Decodes Q8_0 blocks into Float32: `q × d` with `d` widened from fp16, as ggml's
/// `dequantize_row_q8_0` does. Precondition: `output.count == input.count / 34 × 32`.
public func dequantizeQ8_0(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>) {
    precondition(input.count % Q8_0.blockByteCount == 0, "Q8_0 data must be whole 34-byte blocks")
    precondition(output.count == input.count / Q8_0.blockByteCount * Q8_0.blockLength)
    let blocks = input.count / Q8_0.blockByteCount
    guard blocks > 0, let source = input.baseAddress, let destination = output.baseAddress else { return }
    let out = destination
    parallelRanges(blocks, minimumChunk: 2048) { range in
        for block in range {
            let x = source + block * Q8_0.blockByteCount
            let bits = UInt16(littleEndian: x.loadUnaligned(as: UInt16.self))
            let d = Float(Float16(bitPattern: bits))
            let quants = x.loadUnaligned(fromByteOffset: 2, as: SIMD32<Int8>.self)
            let low = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: quants.lowHalf)) * d
            let high = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: quants.highHalf)) * d
            let y = UnsafeMutableRawPointer(out + block * Q8_0.blockLength)
            y.storeBytes(of: low, as: SIMD16<Float>.self)
            y.storeBytes(of: high, toByteOffset: 64, as: SIMD16<Float>.self)
        }
    }
}
