import SwiftQuantCore
import SwiftQuantKernels

// y = x · Wᵀ for a row-major weight W of shape [outFeatures, inFeatures], stored either as
// Float32 or as int8 with Float32 scales. Int8 weights are widened to Float in registers,
// 16 at a time; W is never copied or expanded.
//
// Blocking: each thread owns a contiguous range of output rows. Within it, the inner
// dimension is cut into blocks small enough that the activation block stays in L2 for the
// whole row range; inside a block, 4 weight rows × 4 activation rows are multiplied at once,
// so each weight vector is widened once and used 4 times, and each activation vector is
// loaded once and used 4 times. Every weight row of a block is read from memory once per
// batch, whatever the batch size.

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

/// A weight matrix the kernels can read 16 columns at a time.
protocol WeightRows {
    /// Columns 16 wide starting at `column` of `row`, as Float.
    func vector(_ row: UnsafeRawPointer, _ column: Int) -> SIMD16<Float>
    /// One weight as Float.
    func scalar(_ row: UnsafeRawPointer, _ column: Int) -> Float
    /// Bytes per weight.
    static var stride: Int { get }
}

struct Int8Rows: WeightRows {
    @inline(__always)
    func vector(_ row: UnsafeRawPointer, _ column: Int) -> SIMD16<Float> {
        let q = row.loadUnaligned(fromByteOffset: column, as: SIMD16<Int8>.self)
        // Element by element, so LLVM emits one sign-extend and one convert for the vector;
        // the standard library's generic SIMD conversion is an opaque call per vector.
        var f = SIMD16<Float>()
        for j in 0..<16 { f[j] = Float(q[j]) }
        return f
    }

    @inline(__always)
    func scalar(_ row: UnsafeRawPointer, _ column: Int) -> Float {
        Float(row.load(fromByteOffset: column, as: Int8.self))
    }

    static var stride: Int { 1 }
}

struct Float32Rows: WeightRows {
    @inline(__always)
    func vector(_ row: UnsafeRawPointer, _ column: Int) -> SIMD16<Float> {
        row.loadUnaligned(fromByteOffset: column &* 4, as: SIMD16<Float>.self)
    }

    @inline(__always)
    func scalar(_ row: UnsafeRawPointer, _ column: Int) -> Float {
        row.loadUnaligned(fromByteOffset: column &* 4, as: Float.self)
    }

    static var stride: Int { 4 }
}

/// `acc += a × b`, fused where the build targets a CPU with FMA.
@inline(__always)
func multiplyAdd(_ acc: inout SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
    #if SWIFTQUANT_FMA
    acc.addProduct(a, b)
    #else
    // Without FMA in the target, `addProduct` becomes a libm call per lane.
    acc += a * b
    #endif
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

    /// Whether group scales are folded into the widened weight vectors (group size a multiple of 16).
    private var groupsAlignToVectors: Bool {
        if case .perGroup(_, let size) = scales { return size % 16 == 0 }
        return true
    }

    package func run() {
        guard batch > 0, outFeatures > 0 else { return }
        // Small products stay on one thread; the split costs more than it saves.
        let work = batch * inFeatures * outFeatures
        let minimumRows = work < 1 << 18 ? outFeatures : max(4, (1 << 16) / max(1, batch * inFeatures))
        // Split in whole groups of 4 rows, so only the last range has rows outside a 4-row tile.
        let groups = (outFeatures + 3) / 4
        parallelRanges(groups, minimumChunk: (minimumRows + 3) / 4) { range in
            computeRows(range.lowerBound * 4 ..< min(outFeatures, range.upperBound * 4))
        }
    }

    /// The inner-dimension block: activations of one block should stay in L2 (about 512 KB).
    private var blockLength: Int {
        var length = max(256, (512 * 1024 / 4) / max(1, batch))
        length = min(length, inFeatures)
        var unit = 16
        if case .perGroup(_, let size) = scales, size % 16 == 0 { unit = size }
        length = max(unit, length / unit * unit)
        return length
    }

    private func computeRows(_ rows: Range<Int>) {
        for b in 0..<batch {
            let y = output + b * outFeatures
            for o in rows { y[o] = 0 }
        }
        if groupsAlignToVectors {
            let block = blockLength
            var k0 = 0
            while k0 < inFeatures {
                let k1 = min(inFeatures, k0 + block)
                if case .perGroup = scales {
                    computeBlock(rows: rows, k0: k0, k1: k1, WithGroupScales.self)
                } else {
                    computeBlock(rows: rows, k0: k0, k1: k1, WithoutGroupScales.self)
                }
                k0 = k1
            }
        } else {
            computeUnaligned(rows: rows)
        }
        finish(rows: rows)
    }

    /// Scales (per tensor, per row) and bias, after every block has been accumulated.
    private func finish(rows: Range<Int>) {
        for b in 0..<batch {
            let y = output + b * outFeatures
            switch scales {
            case .perTensor(let scale):
                for o in rows { y[o] *= scale }
            case .perRow(let rowScales):
                for o in rows { y[o] *= rowScales[o] }
            case .none, .perGroup:
                break
            }
            if let bias {
                for o in rows { y[o] += bias[o] }
            }
        }
    }

    @inline(__always)
    private func row(_ o: Int) -> UnsafeRawPointer {
        weightBase + o &* inFeatures &* Weights.stride
    }

    /// The group size, or the whole row when scales do not change along it.
    private var segmentLength: Int {
        if case .perGroup(_, let size) = scales { return size }
        return inFeatures
    }

    /// Row `o`'s group scales, or a pointer to a single 1 when scales do not change along the row.
    @inline(__always)
    private func groupScaleRow(_ o: Int) -> UnsafePointer<Float> {
        if case .perGroup(let groupScales, let size) = scales {
            return groupScales + o &* (inFeatures / size)
        }
        return unitScale
    }

    private func computeBlock<S: GroupScaling>(rows: Range<Int>, k0: Int, k1: Int, _: S.Type) {
        let vectorEnd = k0 + (k1 - k0) / 16 * 16
        let segment = segmentLength
        var o = rows.lowerBound
        while o + 4 <= rows.upperBound {
            let w = (row(o), row(o + 1), row(o + 2), row(o + 3))
            let s = (groupScaleRow(o), groupScaleRow(o + 1), groupScaleRow(o + 2), groupScaleRow(o + 3))
            var b = 0
            while b + 4 <= batch {
                let x0 = input + b * inFeatures
                let x = (x0, x0 + inFeatures, x0 + 2 * inFeatures, x0 + 3 * inFeatures)
                let sums = dot4x4(weights, S.self, w: w, s: s, x: x, k0: k0, k1: vectorEnd, segment: segment)
                let y0 = output + b * outFeatures + o
                for i in 0..<4 {
                    for j in 0..<4 {
                        y0[j * outFeatures + i] += sums[i * 4 + j] + tail(o + i, x0 + j * inFeatures, vectorEnd, k1)
                    }
                }
                b += 4
            }
            while b < batch {
                let x0 = input + b * inFeatures
                let sums = dot4x1(weights, S.self, w: w, s: s, x: x0, k0: k0, k1: vectorEnd, segment: segment)
                let y0 = output + b * outFeatures + o
                for i in 0..<4 { y0[i] += sums[i] + tail(o + i, x0, vectorEnd, k1) }
                b += 1
            }
            o += 4
        }
        while o < rows.upperBound {
            let w = row(o)
            let s = groupScaleRow(o)
            for b in 0..<batch {
                let x0 = input + b * inFeatures
                let sum = dot1x1(weights, S.self, w: w, s: s, x: x0, k0: k0, k1: vectorEnd, segment: segment)
                output[b * outFeatures + o] += sum + tail(o, x0, vectorEnd, k1)
            }
            o += 1
        }
    }

    /// The columns `k0..<k1` past the last whole vector, one at a time.
    @inline(__always)
    private func tail(_ o: Int, _ x: UnsafePointer<Float>, _ k0: Int, _ k1: Int) -> Float {
        var sum: Float = 0
        let w = row(o)
        let s = groupScaleRow(o)
        let size = segmentLength
        var k = k0
        while k < k1 {
            let scale = size == inFeatures ? s[0] : s[k / size]
            sum += weights.scalar(w, k) * scale * x[k]
            k += 1
        }
        return sum
    }

    /// Group sizes that are not a multiple of 16: one weight at a time, still one pass over W.
    private func computeUnaligned(rows: Range<Int>) {
        for o in rows {
            for b in 0..<batch {
                output[b * outFeatures + o] = tail(o, input + b * inFeatures, 0, inFeatures)
            }
        }
    }
}

/// A stand-in scale row for weights without group scales.
nonisolated(unsafe) private let unitScaleStorage: UnsafeMutablePointer<Float> = {
    let pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    pointer.initialize(to: 1)
    return pointer
}()
private var unitScale: UnsafePointer<Float> { UnsafePointer(unitScaleStorage) }

/// Whether weight vectors are multiplied by a group scale inside the loop; a type parameter
/// so that each case compiles to its own loop without a branch.
protocol GroupScaling { static var applies: Bool { get } }
enum WithGroupScales: GroupScaling { static var applies: Bool { true } }
enum WithoutGroupScales: GroupScaling { static var applies: Bool { false } }

typealias FourRows = (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer)
typealias FourScaleRows = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)

/// Dot products of 4 weight rows with 4 activation rows over `k0..<k1` (a multiple of 16 long);
/// result `i * 4 + j` is weight row i · activation row j.
@inline(never)
func dot4x4<W: WeightRows, S: GroupScaling>(
    _ weights: W, _: S.Type, w: FourRows, s: FourScaleRows,
    x: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
    k0: Int, k1: Int, segment: Int
) -> SIMD16<Float> {
    var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
    var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
    var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
    var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
    var k = k0
    while k < k1 {
        let end = S.applies ? min(k1, (k / segment + 1) * segment) : k1
        let g = S.applies ? k / segment : 0
        let s0 = SIMD16<Float>(repeating: s.0[g]), s1 = SIMD16<Float>(repeating: s.1[g])
        let s2 = SIMD16<Float>(repeating: s.2[g]), s3 = SIMD16<Float>(repeating: s.3[g])
        while k < end {
            var v0 = weights.vector(w.0, k), v1 = weights.vector(w.1, k)
            var v2 = weights.vector(w.2, k), v3 = weights.vector(w.3, k)
            if S.applies { v0 *= s0; v1 *= s1; v2 *= s2; v3 *= s3 }
            let x0 = UnsafeRawPointer(x.0 + k).loadUnaligned(as: SIMD16<Float>.self)
            let x1 = UnsafeRawPointer(x.1 + k).loadUnaligned(as: SIMD16<Float>.self)
            let x2 = UnsafeRawPointer(x.2 + k).loadUnaligned(as: SIMD16<Float>.self)
            let x3 = UnsafeRawPointer(x.3 + k).loadUnaligned(as: SIMD16<Float>.self)
            multiplyAdd(&a00, v0, x0); multiplyAdd(&a01, v0, x1); multiplyAdd(&a02, v0, x2); multiplyAdd(&a03, v0, x3)
            multiplyAdd(&a10, v1, x0); multiplyAdd(&a11, v1, x1); multiplyAdd(&a12, v1, x2); multiplyAdd(&a13, v1, x3)
            multiplyAdd(&a20, v2, x0); multiplyAdd(&a21, v2, x1); multiplyAdd(&a22, v2, x2); multiplyAdd(&a23, v2, x3)
            multiplyAdd(&a30, v3, x0); multiplyAdd(&a31, v3, x1); multiplyAdd(&a32, v3, x2); multiplyAdd(&a33, v3, x3)
            k &+= 16
        }
    }
    return SIMD16(
        lowHalf: SIMD8(lowHalf: horizontalSums(a00, a01, a02, a03), highHalf: horizontalSums(a10, a11, a12, a13)),
        highHalf: SIMD8(lowHalf: horizontalSums(a20, a21, a22, a23), highHalf: horizontalSums(a30, a31, a32, a33)))
}

/// Dot products of 4 weight rows with one activation row over `k0..<k1` (a multiple of 16 long).
@inline(never)
func dot4x1<W: WeightRows, S: GroupScaling>(
    _ weights: W, _: S.Type, w: FourRows, s: FourScaleRows, x: UnsafePointer<Float>,
    k0: Int, k1: Int, segment: Int
) -> SIMD4<Float> {
    // Two accumulators per row hide the FMA latency while one activation row streams.
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    var k = k0
    while k < k1 {
        let end = S.applies ? min(k1, (k / segment + 1) * segment) : k1
        let g = S.applies ? k / segment : 0
        let s0 = SIMD16<Float>(repeating: s.0[g]), s1 = SIMD16<Float>(repeating: s.1[g])
        let s2 = SIMD16<Float>(repeating: s.2[g]), s3 = SIMD16<Float>(repeating: s.3[g])
        while k &+ 32 <= end {
            var v0 = weights.vector(w.0, k), v1 = weights.vector(w.1, k)
            var v2 = weights.vector(w.2, k), v3 = weights.vector(w.3, k)
            var u0 = weights.vector(w.0, k &+ 16), u1 = weights.vector(w.1, k &+ 16)
            var u2 = weights.vector(w.2, k &+ 16), u3 = weights.vector(w.3, k &+ 16)
            if S.applies {
                v0 *= s0; v1 *= s1; v2 *= s2; v3 *= s3
                u0 *= s0; u1 *= s1; u2 *= s2; u3 *= s3
            }
            let xv = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD16<Float>.self)
            let xu = UnsafeRawPointer(x + (k &+ 16)).loadUnaligned(as: SIMD16<Float>.self)
            multiplyAdd(&a0, v0, xv); multiplyAdd(&a1, v1, xv); multiplyAdd(&a2, v2, xv); multiplyAdd(&a3, v3, xv)
            multiplyAdd(&c0, u0, xu); multiplyAdd(&c1, u1, xu); multiplyAdd(&c2, u2, xu); multiplyAdd(&c3, u3, xu)
            k &+= 32
        }
        while k < end {
            var v0 = weights.vector(w.0, k), v1 = weights.vector(w.1, k)
            var v2 = weights.vector(w.2, k), v3 = weights.vector(w.3, k)
            if S.applies { v0 *= s0; v1 *= s1; v2 *= s2; v3 *= s3 }
            let xv = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD16<Float>.self)
            multiplyAdd(&a0, v0, xv); multiplyAdd(&a1, v1, xv); multiplyAdd(&a2, v2, xv); multiplyAdd(&a3, v3, xv)
            k &+= 16
        }
    }
    return horizontalSums(a0 + c0, a1 + c1, a2 + c2, a3 + c3)
}

/// The dot product of one weight row with one activation row over `k0..<k1` (a multiple of 16 long).
@inline(never)
func dot1x1<W: WeightRows, S: GroupScaling>(
    _ weights: W, _: S.Type, w: UnsafeRawPointer, s: UnsafePointer<Float>, x: UnsafePointer<Float>,
    k0: Int, k1: Int, segment: Int
) -> Float {
    var a0 = SIMD16<Float>()
    var k = k0
    while k < k1 {
        let end = S.applies ? min(k1, (k / segment + 1) * segment) : k1
        let s0 = SIMD16<Float>(repeating: S.applies ? s[k / segment] : 1)
        while k < end {
            var v0 = weights.vector(w, k)
            if S.applies { v0 *= s0 }
            multiplyAdd(&a0, v0, UnsafeRawPointer(x + k).loadUnaligned(as: SIMD16<Float>.self))
            k &+= 16
        }
    }
    return a0.sum()
}

/// The sums of four vectors, with shuffles shared between them instead of four serial reductions.
@inline(__always)
func horizontalSums(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>) -> SIMD4<Float> {
    // 16 → 8 lanes each, then pair up vectors so every add works on full registers.
    let a8 = a.lowHalf + a.highHalf, b8 = b.lowHalf + b.highHalf
    let c8 = c.lowHalf + c.highHalf, d8 = d.lowHalf + d.highHalf
    let a4 = a8.lowHalf + a8.highHalf, b4 = b8.lowHalf + b8.highHalf
    let c4 = c8.lowHalf + c8.highHalf, d4 = d8.lowHalf + d8.highHalf
    let ab = SIMD8(lowHalf: a4, highHalf: b4), cd = SIMD8(lowHalf: c4, highHalf: d4)
    // Lanes 0..3 of ab hold a's four partial sums, 4..7 b's.
    let abPairs = ab.evenHalf + ab.oddHalf     // a0+a1, a2+a3, b0+b1, b2+b3
    let cdPairs = cd.evenHalf + cd.oddHalf
    let all = SIMD8(lowHalf: abPairs, highHalf: cdPairs)
    return all.evenHalf + all.oddHalf          // a, b, c, d
}
