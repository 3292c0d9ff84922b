import SwiftQuantCore
/// Where a kernel reads its input: Float32 values, or encoded bytes decoded lane by lane.
///
/// Every kernel is generic over this protocol, so quantization, absmax and the error
/// metrics are written once and specialised per encoding. Reading encoded bytes directly
/// is what lets the converter quantize fp16/bf16 tensors without a Float32 copy.
protocol LaneSource {
    /// The number of values.
    var count: Int { get }
    /// The 16 values starting at `index`; requires `index + 16 <= count`.
    func lanes(at index: Int) -> FloatLanes
    /// Like ``lanes(at:)`` for values already known to be finite; may skip inf/NaN handling.
    func finiteLanes(at index: Int) -> FloatLanes
    /// The `available` (< 16) values starting at `index`, the other lanes zero.
    func partialLanes(at index: Int, available: Int) -> FloatLanes
    /// One value, decoded to Float32.
    func value(at index: Int) -> Float
    /// max |w| over `range`: NaN when the range holds a NaN, +inf when it holds an infinity.
    func absmax(_ range: Range<Int>) -> Float
}

extension LaneSource {
    @inline(__always)
    func finiteLanes(at index: Int) -> FloatLanes { lanes(at: index) }

    func partialLanes(at index: Int, available: Int) -> FloatLanes {
        var lanes = FloatLanes()
        for lane in 0..<available { lanes[lane] = value(at: index + lane) }
        return lanes
    }

    /// absmax through decoded lanes; sources with cheaper bit tricks override it.
    func absmaxByLanes(_ range: Range<Int>) -> Float {
        var m0 = Int32Lanes(), m1 = Int32Lanes()
        var index = range.lowerBound
        while index + 2 * laneCount <= range.upperBound {
            m0 = laneMax(m0, magnitudeBits(lanes(at: index)))
            m1 = laneMax(m1, magnitudeBits(lanes(at: index + laneCount)))
            index += 2 * laneCount
        }
        if index + laneCount <= range.upperBound {
            m0 = laneMax(m0, magnitudeBits(lanes(at: index)))
            index += laneCount
        }
        if index < range.upperBound {
            m1 = laneMax(m1, magnitudeBits(partialLanes(at: index, available: range.upperBound - index)))
        }
        return Float(bitPattern: UInt32(horizontalMax(laneMax(m0, m1))))
    }

    /// The first index in `range` holding NaN or ±inf.
    func firstNonFinite(in range: Range<Int>) -> Int? {
        range.first { !value(at: $0).isFinite }
    }
}

/// Float32 values in memory, possibly unaligned.
struct Float32Lanes: LaneSource {
    let base: UnsafeRawPointer
    let count: Int

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    init(_ buffer: UnsafeBufferPointer<Float>) {
        self.init(base: rawBase(UnsafeRawBufferPointer(buffer)), count: buffer.count)
    }

    @inline(__always)
    func lanes(at index: Int) -> FloatLanes {
        base.loadUnaligned(fromByteOffset: 4 * index, as: FloatLanes.self)
    }

    @inline(__always)
    package func value(at index: Int) -> Float {
        base.loadUnaligned(fromByteOffset: 4 * index, as: Float.self)
    }

    @inline(__always)
    func absmax(_ range: Range<Int>) -> Float { absmaxByLanes(range) }
}

/// Little-endian IEEE binary16 bytes, possibly unaligned.
struct Float16Lanes: LaneSource {
    let base: UnsafeRawPointer
    let count: Int

    @inline(__always)
    func lanes(at index: Int) -> FloatLanes {
        decodedHalfLanes(halfBits(base + 2 * index))
    }

    @inline(__always)
    func finiteLanes(at index: Int) -> FloatLanes {
        decodedHalfLanes(halfBits(base + 2 * index), finite: true)
    }

    @inline(__always)
    package func value(at index: Int) -> Float {
        decodedHalf(base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
    }

    func partialLanes(at index: Int, available: Int) -> FloatLanes {
        var bits = SIMD16<UInt16>()
        for lane in 0..<available {
            bits[lane] = base.loadUnaligned(fromByteOffset: 2 * (index + lane), as: UInt16.self)
        }
        return decodedHalfLanes(bits)
    }

    /// Works on the 16-bit patterns: |h| bits order like magnitudes, NaN above inf, so only
    /// the winning pattern is decoded.
    @inline(__always)
    func absmax(_ range: Range<Int>) -> Float {
        decodedHalf(maxMagnitudeHalfBits(base, range))
    }
}

/// Little-endian bfloat16 bytes, possibly unaligned.
struct BFloat16Lanes: LaneSource {
    let base: UnsafeRawPointer
    let count: Int

    @inline(__always)
    func lanes(at index: Int) -> FloatLanes {
        decodedBFloat16Lanes(halfBits(base + 2 * index))
    }

    @inline(__always)
    package func value(at index: Int) -> Float {
        Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)) << 16)
    }

    func partialLanes(at index: Int, available: Int) -> FloatLanes {
        var bits = SIMD16<UInt16>()
        for lane in 0..<available {
            bits[lane] = base.loadUnaligned(fromByteOffset: 2 * (index + lane), as: UInt16.self)
        }
        return decodedBFloat16Lanes(bits)
    }

    @inline(__always)
    func absmax(_ range: Range<Int>) -> Float {
        Float(bitPattern: UInt32(maxMagnitudeHalfBits(base, range)) << 16)
    }
}

/// Little-endian Float64 bytes, possibly unaligned, rounded to Float32 (to nearest even).
///
/// A finite Float64 beyond the Float32 range becomes ±inf, so quantization reports it as
/// non-finite: the reference converts inputs to Float32 before any arithmetic.
struct Float64Lanes: LaneSource {
    let base: UnsafeRawPointer
    let count: Int

    @inline(__always)
    func lanes(at index: Int) -> FloatLanes {
        let pointer = base + 8 * index
        let low = rounded(pointer.loadUnaligned(as: SIMD8<Double>.self))
        let high = rounded(pointer.loadUnaligned(fromByteOffset: 64, as: SIMD8<Double>.self))
        return FloatLanes(lowHalf: low, highHalf: high)
    }

    @inline(__always)
    package func value(at index: Int) -> Float {
        Float(Double(bitPattern: base.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self)))
    }

    @inline(__always)
    func absmax(_ range: Range<Int>) -> Float { absmaxByLanes(range) }
}

/// The largest 15-bit magnitude pattern (`bits & 0x7fff`) of 16-bit floats in `range`.
///
/// Magnitude patterns fit in a non-negative Int16, and the SIMD8<Int16> max below lowers
/// to one `pmaxsw` per 8 values; four accumulators keep the loop free of dependencies.
@inline(__always)
func maxMagnitudeHalfBits(_ base: UnsafeRawPointer, _ range: Range<Int>) -> UInt16 {
    typealias HalfLanes = SIMD8<Int16>
    let mask = HalfLanes(repeating: 0x7fff)
    @inline(__always)
    func maxLanes(_ m: HalfLanes, _ offset: Int) -> HalfLanes {
        let bits = base.loadUnaligned(fromByteOffset: offset, as: HalfLanes.self) & mask
        return m.replacing(with: bits, where: bits .> m)
    }
    var m0 = HalfLanes(), m1 = HalfLanes(), m2 = HalfLanes(), m3 = HalfLanes()
    var index = range.lowerBound
    while index + 32 <= range.upperBound {
        let offset = 2 * index
        m0 = maxLanes(m0, offset)
        m1 = maxLanes(m1, offset + 16)
        m2 = maxLanes(m2, offset + 32)
        m3 = maxLanes(m3, offset + 48)
        index += 32
    }
    while index + 8 <= range.upperBound {
        m0 = maxLanes(m0, 2 * index)
        index += 8
    }
    m0 = m0.replacing(with: m1, where: m1 .> m0)
    m2 = m2.replacing(with: m3, where: m3 .> m2)
    m0 = m0.replacing(with: m2, where: m2 .> m0)
    var result: UInt16 = 0
    for lane in 0..<8 { result = max(result, UInt16(m0[lane])) }
    while index < range.upperBound {
        result = max(result, base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self) & 0x7fff)
        index += 1
    }
    return result
}

/// The base address of `bytes`, or a dummy one when an empty buffer has none
/// (nothing is read through it then).
@inline(__always)
func rawBase(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawPointer {
    bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 0x40)!
}
