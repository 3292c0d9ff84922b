import SwiftQuantCore
// The 16-lane building blocks every kernel shares.
//
// Only operations that lower to vector instructions on the baseline x86-64 target (SSE2)
// are used here: lane-wise arithmetic and bit operations with vector operands, comparisons
// feeding `replacing(with:where:)`, and conversions written as force-inlined lane loops.
// Scalar-operand overloads, `pointwiseMax`, `.rounded(_:)`, `init(clamping:)`, float→int
// conversions and most SIMD32<Int16> operations become per-lane loops or libm calls there
// (checked in the generated assembly), so they are avoided on purpose. Swift's own
// Float16 → Float conversion is a per-value `__extendhfsf2` call without F16C.

#if !_endian(little)
#error("SwiftQuantKernels reads little-endian tensor bytes with native loads")
#endif

typealias FloatLanes = SIMD16<Float>
typealias WordLanes = SIMD16<UInt32>
typealias Int32Lanes = SIMD16<Int32>

/// The number of values one SIMD step handles.
let laneCount = 16

/// 1.5 × 2²³: adding it to a Float32 of magnitude below 2²² rounds to an integer with the
/// current rounding mode (to nearest, ties to even) and leaves that integer, in two's
/// complement, in the low mantissa bits.
let roundingMagic: Float = 12_582_912

/// `max|w| / 127`, with a zero scale replaced by 1 as the reference does.
@inline(__always)
func symmetricScale(absmax: Float) -> Float {
    let scale = absmax / 127
    return scale == 0 ? 1 : scale
}

/// `clamp(round_half_even(v / scale), -128, 127)` for 16 lanes.
///
/// Bit-identical to the scalar definition: the division is IEEE division, clamping before
/// rounding gives the same result because the bounds are integers, and after clamping
/// |q| ≤ 128 so the magic-number addition rounds exactly once, half to even.
@inline(__always)
func quantizedLanes(_ v: FloatLanes, dividedBy scale: FloatLanes) -> SIMD16<Int8> {
    var q = v / scale
    let upper = FloatLanes(repeating: 127)
    let lower = FloatLanes(repeating: -128)
    // Written as "bound unless inside", which lowers to minps/maxps-style selects.
    q = upper.replacing(with: q, where: q .< upper)
    q = lower.replacing(with: q, where: q .> lower)
    q += FloatLanes(repeating: roundingMagic)
    let bits = unsafeBitCast(q, to: Int32Lanes.self)
    var codes = SIMD16<Int8>()
    for lane in 0..<laneCount { codes[lane] = Int8(truncatingIfNeeded: bits[lane]) }
    return codes
}

// Lane-by-lane conversions written out and force-inlined: LLVM turns them into unpack and
// convert instructions, whereas the standard library's generic SIMD conversions are
// sometimes left as out-of-line calls inside larger loops.

@inline(__always)
func widened(_ v: SIMD8<Int8>) -> SIMD8<Int32> {
    var result = SIMD8<Int32>()
    for lane in 0..<8 { result[lane] = Int32(v[lane]) }
    return result
}

@inline(__always)
func converted(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    var result = SIMD8<Float>()
    for lane in 0..<8 { result[lane] = Float(v[lane]) }
    return result
}

@inline(__always)
func rounded(_ v: SIMD8<Double>) -> SIMD8<Float> {
    var result = SIMD8<Float>()
    for lane in 0..<8 { result[lane] = Float(v[lane]) }
    return result
}

/// IEEE binary16 bit patterns to Float32, exactly: ±0, subnormals, ±inf and NaN (payload
/// kept) included. With `finite`, the caller guarantees there is no inf or NaN (the
/// quantization pass runs after max|w| has checked) and -0 may come out as +0.
///
/// Each Float32 is assembled from 16-bit halves, so most of the work runs 8 lanes per SSE
/// register: the high half is `sign | (|h| >> 3) + rebias`, the low half `h << 13`.
/// Subnormal halves get one more in the exponent and then lose the implicit 2⁻¹⁴ in one
/// exact subtraction, which never touches a Float32 subnormal.
@inline(__always)
func decodedHalfLanes(_ bits: SIMD16<UInt16>, finite: Bool = false) -> FloatLanes {
    FloatLanes(
        lowHalf: decodedHalves(bits.lowHalf, finite: finite),
        highHalf: decodedHalves(bits.highHalf, finite: finite))
}

/// 16 little-endian binary16 patterns at `pointer`, possibly unaligned.
@inline(__always)
func halfBits(_ pointer: UnsafeRawPointer) -> SIMD16<UInt16> {
    SIMD16(
        lowHalf: pointer.loadUnaligned(as: SIMD8<UInt16>.self),
        highHalf: pointer.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self))
}

@inline(__always)
private func decodedHalves(_ h: SIMD8<UInt16>, finite: Bool) -> SIMD8<Float> {
    typealias Halves = SIMD8<UInt16>
    let sign = h & Halves(repeating: 0x8000)
    let exponent = h & Halves(repeating: 0x7c00)
    var high = (((h & Halves(repeating: 0x7fff)) &>> Halves(repeating: 3)) &+ Halves(repeating: 0x3800)) | sign
    if !finite {
        // inf/NaN: exponent 31 + 112 → 255 takes a second rebias.
        high = high.replacing(with: high &+ Halves(repeating: 0x3800), where: exponent .== Halves(repeating: 0x7c00))
    }
    let low = h &<< Halves(repeating: 13)
    let subnormal = exponent .== Halves(repeating: 0)
    high = high.replacing(with: high &+ Halves(repeating: 0x0080), where: subnormal)
    let offset = Halves(repeating: 0).replacing(with: sign | Halves(repeating: 0x3880), where: subnormal)
    var bits = SIMD8<UInt32>(), offsetBits = SIMD8<UInt32>()
    for lane in 0..<8 {
        bits[lane] = UInt32(low[lane]) | UInt32(high[lane]) << 16
        offsetBits[lane] = UInt32(offset[lane]) << 16
    }
    let value = unsafeBitCast(bits, to: SIMD8<Float>.self) - unsafeBitCast(offsetBits, to: SIMD8<Float>.self)
    if finite { return value }
    // ±0 came out of the subtraction as +0; the sign bit restores -0 and changes nothing else.
    var signBits = SIMD8<UInt32>()
    for lane in 0..<8 { signBits[lane] = UInt32(sign[lane]) << 16 }
    return unsafeBitCast(unsafeBitCast(value, to: SIMD8<UInt32>.self) | signBits, to: SIMD8<Float>.self)
}

/// bfloat16 bit patterns to Float32: each is the top half of a Float32.
@inline(__always)
func decodedBFloat16Lanes(_ bits: SIMD16<UInt16>) -> FloatLanes {
    var words = WordLanes()
    for lane in 0..<laneCount { words[lane] = UInt32(bits[lane]) << 16 }
    return unsafeBitCast(words, to: FloatLanes.self)
}

/// Scalar binary16 decoding with the same bit recipe, for error messages and scans.
@inline(__always)
func decodedHalf(_ bits: UInt16) -> Float {
    decodedHalfLanes(SIMD16(repeating: bits))[0]
}

/// 16 Int8 values to Float32 lanes.
@inline(__always)
func floatLanes(_ values: SIMD16<Int8>) -> FloatLanes {
    FloatLanes(lowHalf: converted(widened(values.lowHalf)), highHalf: converted(widened(values.highHalf)))
}

/// `max(m, bits)` lane-wise for non-negative Int32 lanes (absolute-value bit patterns).
@inline(__always)
func laneMax(_ m: Int32Lanes, _ bits: Int32Lanes) -> Int32Lanes {
    m.replacing(with: bits, where: bits .> m)
}

/// The largest lane of non-negative Int32 lanes.
@inline(__always)
func horizontalMax(_ m: Int32Lanes) -> Int32 {
    var result: Int32 = 0
    for lane in 0..<laneCount where m[lane] > result { result = m[lane] }
    return result
}

/// Absolute-value bit patterns of Float32 lanes: ordered like the magnitudes, with every
/// NaN above +inf. That ordering lets one integer max find both max|w| and non-finite values.
@inline(__always)
func magnitudeBits(_ v: FloatLanes) -> Int32Lanes {
    unsafeBitCast(v, to: Int32Lanes.self) & Int32Lanes(repeating: 0x7fff_ffff)
}
