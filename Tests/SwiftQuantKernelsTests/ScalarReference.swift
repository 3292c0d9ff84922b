import SwiftQuant

// A deliberately plain, element-by-element transcription of the reference semantics.
// The SIMD/parallel kernels must match it bit for bit.

/// Symmetric quantization of row-major `w` viewed as `[rows, columns]`, one scale per run
/// of `blockLength` values (the whole tensor, a row, or a group).
func scalarQuantize(_ w: [Float], blockLength: Int) -> (values: [Int8], scales: [Float]) {
    guard !w.isEmpty else { return ([], [1]) }
    var values = [Int8](repeating: 0, count: w.count)
    var scales: [Float] = []
    var start = 0
    while start < w.count {
        let end = start + blockLength
        var amax: Float = 0
        for i in start..<end { amax = max(amax, abs(w[i])) }
        var scale = amax / 127
        if scale == 0 { scale = 1 }
        scales.append(scale)
        for i in start..<end {
            let q = (w[i] / scale).rounded(.toNearestOrEven)
            values[i] = Int8(min(max(q, -128), 127))
        }
        start = end
    }
    return (values, scales)
}

/// The block length `granularity` gives a tensor of `shape` (after the per-group fallback).
func scalarBlockLength(shape: [Int], granularity: Granularity) -> Int {
    let count = shape.reduce(1, *)
    let columns = shape.count < 2 ? (shape.first ?? 1) : shape.dropFirst().reduce(1, *)
    switch granularity {
    case .perTensor: return max(count, 1)
    case .perChannel: return max(columns, 1)
    case .perGroup(let size): return columns % size == 0 ? size : max(columns, 1)
    }
}

/// Quantization reducing over `dimension`, torch-style, element by element.
func scalarQuantize(_ w: [Float], shape: [Int], dimension: Int) -> (values: [Int8], scales: [Float]) {
    let outer = shape[..<dimension].reduce(1, *)
    let length = shape[dimension]
    let inner = shape[(dimension + 1)...].reduce(1, *)
    var values = [Int8](repeating: 0, count: w.count)
    var scales = [Float](repeating: 0, count: outer * inner)
    for o in 0..<outer {
        for i in 0..<inner {
            var amax: Float = 0
            for k in 0..<length { amax = max(amax, abs(w[(o * length + k) * inner + i])) }
            var scale = amax / 127
            if scale == 0 { scale = 1 }
            scales[o * inner + i] = scale
            for k in 0..<length {
                let index = (o * length + k) * inner + i
                values[index] = Int8(min(max((w[index] / scale).rounded(.toNearestOrEven), -128), 127))
            }
        }
    }
    return (values, scales)
}

/// Little-endian bytes of UInt16 patterns, shifted by `offset` bytes to test unaligned reads.
func bytes(of patterns: [UInt16], offset: Int = 0) -> [UInt8] {
    var result = [UInt8](repeating: 0xAA, count: offset)
    for p in patterns { result += [UInt8(p & 0xff), UInt8(p >> 8)] }
    return result
}

func bytes(of values: [Float], offset: Int = 0) -> [UInt8] {
    var result = [UInt8](repeating: 0xAA, count: offset)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { result += $0 } }
    return result
}

func bytes(of values: [Double], offset: Int = 0) -> [UInt8] {
    var result = [UInt8](repeating: 0xAA, count: offset)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { result += $0 } }
    return result
}

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body` with the kernels on `threads` threads (bound for this call only).
func withKernelThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
    try Parallelism.withThreads(threads, body)
}
