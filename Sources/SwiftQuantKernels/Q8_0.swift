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
/// 32 and `output.count == input.count / 32 × 34`. Runs on `Parallelism.threads` threads.
public func quantizeQ8_0(
    _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer
) throws(KernelError) {
    precondition(input.count % Q8_0.blockLength == 0, "Q8_0 needs whole blocks of 32 values")
    precondition(output.count == input.count / Q8_0.blockLength * Q8_0.blockByteCount)
    guard let destination = output.baseAddress else { return }
    try quantizeQ8_0(input, into: Q8_0Destination(
        codes: destination + 2, codeStride: Q8_0.blockByteCount, halfScales: destination, floatScales: nil))
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
    try quantizeQ8_0(input, into: Q8_0Destination(
        codes: UnsafeMutableRawPointer(codeBase), codeStride: Q8_0.blockLength, halfScales: nil, floatScales: scaleBase))
}

/// Where quantized blocks go: interleaved ggml blocks, or codes and widened scales apart.
private struct Q8_0Destination: @unchecked Sendable {
    // Sendable: each block is written by exactly one thread.
    var codes: UnsafeMutableRawPointer
    var codeStride: Int
    var halfScales: UnsafeMutableRawPointer?
    var floatScales: UnsafeMutablePointer<Float>?

    @inline(__always)
    func store(block: Int, d: Float, quants: SIMD32<Int8>) {
        let half = Float16(d)
        if let halfScales {
            halfScales.storeBytes(of: half.bitPattern.littleEndian, toByteOffset: block &* Q8_0.blockByteCount, as: UInt16.self)
        }
        if let floatScales { floatScales[block] = Float(half) }
        codes.storeBytes(of: quants, toByteOffset: block &* codeStride, as: SIMD32<Int8>.self)
    }
}

private func quantizeQ8_0(_ input: UnsafeBufferPointer<Float>, into destination: Q8_0Destination) throws(KernelError) {
    let blocks = input.count / Q8_0.blockLength
    guard blocks > 0, let source = input.baseAddress else { return }

    // Work is split into fixed chunks, each recording its first bad block in its own slot, so
    // the error reported is the first bad weight whatever the thread count.
    let chunkBlocks = 1024
    let chunks = (blocks + chunkBlocks - 1) / chunkBlocks
    var firstBad = [Int](repeating: Int.max, count: chunks)
    firstBad.withUnsafeMutableBufferPointer { slots in
        let badSlots = slots
        parallelRanges(chunks, minimumChunk: 2) { chunkRange in
            for chunk in chunkRange {
                let range = chunk * chunkBlocks..<min(blocks, (chunk + 1) * chunkBlocks)
                badSlots[chunk] = quantizeQ8_0Blocks(range, from: source, into: destination)
            }
        }
    }
    if let bad = firstBad.first(where: { $0 != Int.max }) {
        for i in bad * Q8_0.blockLength..<(bad + 1) * Q8_0.blockLength where !input[i].isFinite {
            throw .nonFiniteValue(index: i, value: input[i])
        }
    }
}

/// Quantizes the blocks in `range`; returns the first block holding a NaN or infinity
/// (left unwritten), or `Int.max`.
@inline(__always)
private func quantizeQ8_0Blocks(
    _ range: Range<Int>, from source: UnsafePointer<Float>, into destination: Q8_0Destination
) -> Int {
    var bad = Int.max
    // The input pointer strides through the blocks: no per-block index arithmetic to overflow-check.
    var x = UnsafeRawPointer(source + range.lowerBound &* Q8_0.blockLength)
    for block in range {
        let low = x.loadUnaligned(as: SIMD16<Float>.self)
        let high = x.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        x += 128
        // x − x is 0 for finite x and NaN for NaN or ±inf.
        if !all((low - low) .== 0 .& (high - high) .== 0) {
            if block < bad { bad = block }
            continue
        }
        let amax = maximum(magnitude(low), magnitude(high))
        let d = amax / 127
        var id: Float = d != 0 ? 1 / d : 0
        if !id.isFinite { id = 0 }
        let quants = SIMD32<Int8>(lowHalf: roundedQuants(low * id), highHalf: roundedQuants(high * id))
        destination.store(block: block, d: d, quants: quants)
    }
    return bad
}

// The stdlib's generic SIMD reductions, `rounded` and float-to-int conversions run lane by
// lane (measured 5–100× slower), so these helpers use only compares, blends and bit casts.

/// |v| by clearing the sign bits.
@inline(__always)
private func magnitude(_ v: SIMD16<Float>) -> SIMD16<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
}

/// The largest lane of two non-negative vectors.
@inline(__always)
private func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> Float {
    let m16 = a.replacing(with: b, where: b .> a)
    let m8 = m16.lowHalf.replacing(with: m16.highHalf, where: m16.highHalf .> m16.lowHalf)
    let m4 = m8.lowHalf.replacing(with: m8.highHalf, where: m8.highHalf .> m8.lowHalf)
    return max(max(m4[0], m4[1]), max(m4[2], m4[3]))
}

/// `roundf` of each lane (half away from zero) as int8, for lanes within ±2^22 (quants are within ±127.5).
@inline(__always)
private func roundedQuants(_ x: SIMD16<Float>) -> SIMD16<Int8> {
    // Adding 1.5·2^23 rounds to an integer, nearest-even; the low mantissa bits then hold it
    // in two's complement.
    let shift: Float = 12_582_912
    let nearestEven = (x + shift) - shift
    // x − nearestEven is exact. A tie that went toward zero moves one step away from zero.
    let difference = x - nearestEven
    let towardZeroTie = (difference .== 0.5 .& x .> 0) .| (difference .== -0.5 .& x .< 0)
    let rounded = nearestEven.replacing(with: nearestEven + difference + difference, where: towardZeroTie)
    let bits = unsafeBitCast(rounded + shift, to: SIMD16<UInt32>.self)
    return SIMD16<Int8>(truncatingIfNeeded: bits)
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
