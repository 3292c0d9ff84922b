import Testing
import SwiftQuant
import SwiftQuantKernels

/// Every instruction-set variant of the conversion kernels this CPU runs (scalar, AVX2,
/// AVX-512 here) against the element-by-element references — ScalarReference.swift's
/// `scalarQuantize`, Q8_0Tests' `referenceQuantizeQ8_0`, Swift's own conversions for decoding —
/// bit for bit, on odd lengths, unaligned bytes, every dtype, NaN/inf/subnormal/±0 inputs.
/// Where a reference leaves bits open (which NaN comes out), each variant must still equal the
/// scalar variant bit for bit.
@Suite struct ConversionKernelISATests {
    static let lengths = [0, 1, 15, 17, 31, 33, 1_000_003]
    static let encodings: [FloatEncoding] = [.float16, .bfloat16, .float32, .float64]

    @Test func severalVariantsRunHere() {
        // On x86-64 with AVX2 at least scalar and avx2; the rest of the suite loops over them.
        #expect(KernelISA.runnable.first == .scalar)
        #if arch(x86_64)
        #expect(KernelISA.runnable.count >= 2)
        #endif
    }

    @Test(arguments: encodings)
    func decodingMatchesSwiftConversions(encoding: FloatEncoding) {
        for length in Self.lengths {
            let raw = randomPatterns(encoding, count: length, seed: UInt64(length), finite: false)
            let expected = referenceDecode(raw, encoding)
            let scalar = KernelISA.with(.scalar) { decoded(raw, encoding) }
            for isa in KernelISA.runnable {
                let actual = KernelISA.with(isa) { withKernelThreads(2) { decoded(raw, encoding) } }
                #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa) \(encoding) \(length)")
                #expect(actual.map(\.bitPattern) == scalar.map(\.bitPattern), "\(isa) \(encoding) \(length)")
            }
        }
    }

    @Test func everyFloat16PatternDecodesAlikeInEveryVariant() {
        let patterns = (0...UInt16.max).map { $0 }
        let raw = bytes(of: patterns, offset: 1)
        let expected = referenceDecode(raw, .float16).map(\.bitPattern)
        for isa in KernelISA.runnable {
            #expect(KernelISA.with(isa) { decoded(raw, .float16) }.map(\.bitPattern) == expected, "\(isa)")
        }
    }

    @Test(arguments: encodings)
    func absmaxMatchesTheDecodedMaximum(encoding: FloatEncoding) {
        for length in Self.lengths {
            for special in [nil, Float.infinity, -.infinity, .nan] as [Float?] {
                var raw = randomPatterns(encoding, count: length, seed: UInt64(length) + 7, finite: true)
                if let special, length > 0 { place(special, at: length * 2 / 3, in: &raw, encoding) }
                let values = referenceDecode(raw, encoding)
                let expected = values.map { $0.magnitude.bitPattern }.max() ?? 0
                let scalar = KernelISA.with(.scalar) { absmaxOf(raw, encoding) }
                for isa in KernelISA.runnable {
                    let actual = KernelISA.with(isa) { withKernelThreads(2) { absmaxOf(raw, encoding) } }
                    let label = "\(isa) \(encoding) \(length) \(String(describing: special))"
                    if Float(bitPattern: expected).isNaN {
                        #expect(actual.isNaN, "\(label)")
                    } else {
                        #expect(actual.bitPattern == expected, "\(label)")
                    }
                    #expect(actual.bitPattern == scalar.bitPattern, "\(label)")
                }
            }
        }
    }

    @Test(arguments: encodings)
    func symmetricQuantizationMatchesTheScalarReference(encoding: FloatEncoding) throws {
        var shapes: [[Int]] = Self.lengths.map { [$0] }
        for columns in [1, 15, 17, 31, 33, 64, 384] { shapes.append([2_048 / columns + 3, columns]) }
        shapes.append([3, 5, 96])
        let granularities: [Granularity] = [
            .perTensor, .perChannel, .perGroup(size: 1), .perGroup(size: 16), .perGroup(size: 32), .perGroup(size: 128),
        ]
        for (n, shape) in shapes.enumerated() {
            let count = shape.reduce(1, *)
            let raw = randomPatterns(encoding, count: count, seed: UInt64(100 + n), finite: true)
            let decodedValues = referenceDecode(raw, encoding)
            // The big prime length has one row and no group size that divides it: per tensor covers it.
            for granularity in count > 100_000 ? [.perTensor] : granularities {
                let effective = effectiveGranularity(for: shape, requested: granularity)
                var expected = scalarQuantize(decodedValues, blockLength: scalarBlockLength(shape: shape, granularity: effective))
                // No values: every scale there is (none for per channel) is 1.
                if count == 0 { expected.scales = [Float](repeating: 1, count: scaleCount(shape: shape, granularity: effective)) }
                for isa in KernelISA.runnable {
                    let actual = try KernelISA.with(isa) {
                        try withKernelThreads(2) { try quantized(raw, encoding, shape: shape, granularity: effective) }
                    }
                    let label = "\(isa) \(encoding) \(shape) \(granularity)"
                    #expect(actual.values == expected.values, "\(label)")
                    #expect(actual.scales.map(\.bitPattern) == expected.scales.map(\.bitPattern), "\(label)")
                }
            }
        }
    }

    @Test(arguments: encodings)
    func firstNonFiniteWeightIsReportedByEveryVariant(encoding: FloatEncoding) {
        let shape = [5, 33]
        for (special, position) in [(Float.nan, 70), (.infinity, 100), (-.infinity, 0), (.nan, 164)] {
            var raw = randomPatterns(encoding, count: 165, seed: 3, finite: true)
            place(special, at: position, in: &raw, encoding)
            if position == 70 { place(.infinity, at: 100, in: &raw, encoding) }
            for granularity in [Granularity.perTensor, .perChannel, .perGroup(size: 11)] {
                for isa in KernelISA.runnable {
                    do {
                        _ = try KernelISA.with(isa) { try quantized(raw, encoding, shape: shape, granularity: granularity) }
                        Issue.record("no error: \(isa) \(encoding) \(granularity)")
                    } catch let error as KernelError {
                        guard case .nonFiniteValue(let index, let value) = error else {
                            Issue.record("unexpected \(error)")
                            continue
                        }
                        #expect(index == position, "\(isa) \(encoding) \(granularity)")
                        #expect(value.isNaN == special.isNaN && !value.isFinite)
                    } catch {
                        Issue.record("unexpected \(error)")
                    }
                }
            }
        }
    }

    @Test(arguments: encodings)
    func errorMetricsAreTheSameInEveryVariant(encoding: FloatEncoding) throws {
        for shape in [[1], [17], [3, 33], [40, 100], [7, 2_000], [1, 1_000_003]] {
            let count = shape.reduce(1, *)
            let raw = randomPatterns(encoding, count: count, seed: 11, finite: true)
            for granularity in [Granularity.perTensor, .perChannel, .perGroup(size: 20)] {
                let effective = effectiveGranularity(for: shape, requested: granularity)
                let (values, scales) = try quantized(raw, encoding, shape: shape, granularity: effective)
                func metrics() -> QuantizationErrorMetrics {
                    raw.withUnsafeBytes { raw in
                        values.withUnsafeBufferPointer { values in
                            scales.withUnsafeBufferPointer { scales in
                                quantizationError(
                                    encoded: UnsafeRawBufferPointer(rebasing: raw[1...]), encoding: encoding,
                                    values: values, scales: scales)
                            }
                        }
                    }
                }
                let scalar = KernelISA.with(.scalar) { withKernelThreads(1) { metrics() } }
                // The C kernels keep the Swift SIMD code's order of operations: stored metrics do not change.
                let before = raw.withUnsafeBytes { raw in
                    values.withUnsafeBufferPointer { values in
                        scales.withUnsafeBufferPointer { scales in
                            SwiftSIMDBaseline.quantizationError(
                                encoded: UnsafeRawBufferPointer(rebasing: raw[1...]), encoding: encoding,
                                values: values, scales: scales)
                        }
                    }
                }
                #expect(bits(scalar) == bits(before), "\(encoding) \(shape) \(granularity)")
                for isa in KernelISA.runnable {
                    let actual = KernelISA.with(isa) { withKernelThreads(2) { metrics() } }
                    #expect(bits(actual) == bits(scalar), "\(isa) \(encoding) \(shape) \(granularity)")
                }
            }
        }
    }

    @Test func q8_0MatchesGGMLInEveryVariant() throws {
        var inputs: [[Float]] = [[], randomFloats(32, seed: 1, scale: 1), randomFloats(32 * 17, seed: 2, scale: 3e-3)]
        inputs.append(randomFloats(32 * 31_251, seed: 3, scale: 0.05))  // 1,000,032 values
        // Ties: amax 127 gives d = id = 1, so x × id lands on the halves.
        let ties = [127] + (0..<31).map { Float($0 - 15) + 0.5 }
        inputs.append(ties + ties.map { -$0 })
        // Signed zeros, subnormals, an all-zero block, a block whose d is subnormal (id still finite)
        // and one whose fp16 d underflows to 0.
        var edge = [Float](repeating: 0, count: 32 * 5)
        for j in 0..<32 { edge[j] = j % 2 == 0 ? -0.0 : Float.leastNonzeroMagnitude * Float(j) }
        for j in 0..<32 { edge[64 + j] = 1e-36 * Float(j - 16) }
        for j in 0..<32 { edge[96 + j] = 1e-9 * Float(j - 16) }
        for j in 0..<32 { edge[128 + j] = 6e4 * Float(j - 16) / 16 }
        inputs.append(edge)
        for x in inputs {
            let expected = referenceQuantizeQ8_0(x)
            for isa in KernelISA.runnable {
                let (blocks, codes, scales) = try KernelISA.with(isa) { try withKernelThreads(2) { try q8_0(x) } }
                #expect(blocks == expected, "\(isa) \(x.count)")
                // The split layout holds the same codes and the fp16 scales widened.
                let blockCount = x.count / 32
                let expectedCodes = (0..<x.count).map { Int8(bitPattern: expected[$0 / 32 * 34 + 2 + $0 % 32]) }
                let expectedScales = (0..<blockCount).map {
                    Float(Float16(bitPattern: UInt16(expected[$0 * 34]) | UInt16(expected[$0 * 34 + 1]) << 8))
                }
                #expect(codes == expectedCodes, "\(isa) \(x.count)")
                #expect(scales.map(\.bitPattern) == expectedScales.map(\.bitPattern), "\(isa) \(x.count)")
            }
        }
    }

    @Test func q8_0BlocksTooSmallForAReciprocalGetZeroCodesInEveryVariant() throws {
        // amax < 2^-121: 1/d overflows, which ggml leaves to the C conversion; every variant writes 0.
        let x = (0..<64).map { Float(1e-40) * Float($0 % 7 + 1) * ($0 % 2 == 0 ? 1 : -1) }
        for isa in KernelISA.runnable {
            let (_, codes, _) = try KernelISA.with(isa) { try q8_0(x) }
            #expect(codes == [Int8](repeating: 0, count: 64), "\(isa)")
        }
    }

    @Test func q8_0ReportsTheFirstNonFiniteWeightInEveryVariant() {
        var x = randomFloats(32 * 40, seed: 9, scale: 1)
        x[1_000] = .infinity
        x[40] = .nan
        x[45] = .infinity
        for isa in KernelISA.runnable {
            do {
                _ = try KernelISA.with(isa) { try withKernelThreads(2) { try q8_0(x) } }
                Issue.record("no error: \(isa)")
            } catch let error as KernelError {
                guard case .nonFiniteValue(let index, let value) = error else {
                    Issue.record("unexpected \(error)")
                    continue
                }
                #expect(index == 40, "\(isa)")
                #expect(value.isNaN)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }
}

// MARK: - Inputs and the calls under test

/// The metrics' bit patterns (a NaN SNR from sums that overflowed compares equal to itself).
private func bits(_ m: QuantizationErrorMetrics) -> [UInt32] {
    [m.maxAbsError, m.meanAbsError, m.relativeErrorPercent, m.snrDecibels].map(\.bitPattern)
}

/// Little-endian bytes of `count` values of `encoding`, one byte of offset in front so that
/// every read is unaligned. Random bit patterns (NaN and ±inf included unless `finite`), with
/// ±0, subnormals, the largest finite values and exact .5 ties mixed in.
private func randomPatterns(_ encoding: FloatEncoding, count: Int, seed: UInt64, finite: Bool) -> [UInt8] {
    var generator = SeededGenerator(seed: seed)
    var raw = [UInt8](repeating: 0xAA, count: 1)
    raw.reserveCapacity(1 + count * encoding.byteWidth)
    for i in 0..<count {
        let bits = generator.next()
        switch encoding {
        case .float16:
            var h = UInt16(truncatingIfNeeded: bits)
            if finite, h & 0x7C00 == 0x7C00 { h &= 0xBFFF }
            switch i % 53 {
            case 1: h = 0x8000
            case 2: h = 0x0001 | (h & 0x83FF)
            case 3: h = 0x7BFF
            default: break
            }
            raw += [UInt8(h & 0xff), UInt8(h >> 8)]
        case .bfloat16:
            var h = UInt16(truncatingIfNeeded: bits)
            if finite, h & 0x7F80 == 0x7F80 { h &= 0xBFFF }
            switch i % 53 {
            case 1: h = 0x8000
            case 2: h = h & 0x807F
            case 3: h = 0x3F40  // 0.75
            default: break
            }
            raw += [UInt8(h & 0xff), UInt8(h >> 8)]
        case .float32:
            var value = i % 2 == 0 ? Float(bitPattern: UInt32(truncatingIfNeeded: bits)) : Float(Int32(truncatingIfNeeded: bits) % 255) + 0.5
            if finite, !value.isFinite { value = Float(bitPattern: value.bitPattern & 0xBFFF_FFFF) }
            if i % 53 == 1 { value = -0.0 }
            if i % 53 == 2 { value = Float.leastNonzeroMagnitude * Float(i % 300) }
            withUnsafeBytes(of: value.bitPattern.littleEndian) { raw += $0 }
        case .float64:
            // Mostly within the Float32 range, to exercise the rounding; sometimes anything.
            var value = i % 4 == 0
                ? Double(bitPattern: bits)
                : Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits) & 0xBFFF_FFFF)) * (1 + Double(bits >> 40) * 0x1p-40)
            if finite, !Float(value).isFinite { value = Double(bits >> 11) * 0x1p-53 }
            if i % 53 == 1 { value = -0.0 }
            withUnsafeBytes(of: value.bitPattern.littleEndian) { raw += $0 }
        }
    }
    return raw
}

/// Writes `value` (exactly representable in every encoding: ±inf, NaN) at `index`.
private func place(_ value: Float, at index: Int, in raw: inout [UInt8], _ encoding: FloatEncoding) {
    let offset = 1 + index * encoding.byteWidth
    var bytes: [UInt8] = []
    switch encoding {
    case .float16: withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { bytes += $0 }
    case .bfloat16: withUnsafeBytes(of: UInt16(value.bitPattern >> 16).littleEndian) { bytes += $0 }
    case .float32: withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    case .float64: withUnsafeBytes(of: Double(value).bitPattern.littleEndian) { bytes += $0 }
    }
    raw.replaceSubrange(offset..<offset + bytes.count, with: bytes)
}

/// The values Swift's own conversions give, one at a time; a binary16 NaN is quieted (as
/// every hardware conversion does), its payload kept.
private func referenceDecode(_ raw: [UInt8], _ encoding: FloatEncoding) -> [Float] {
    let count = (raw.count - 1) / encoding.byteWidth
    return raw.withUnsafeBytes { bytes in
        (0..<count).map { i in
            let offset = 1 + i * encoding.byteWidth
            switch encoding {
            case .float16:
                let value = Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
                return value.isNaN ? Float(bitPattern: value.bitPattern | 0x0040_0000) : value
            case .bfloat16:
                return Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) << 16)
            case .float32:
                return Float(bitPattern: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            case .float64:
                return Float(Double(bitPattern: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            }
        }
    }
}

private func decoded(_ raw: [UInt8], _ encoding: FloatEncoding) -> [Float] {
    raw.withUnsafeBytes { decodeFloats(UnsafeRawBufferPointer(rebasing: $0[1...]), encoding: encoding) }
}

private func absmaxOf(_ raw: [UInt8], _ encoding: FloatEncoding) -> Float {
    raw.withUnsafeBytes { absmax(encoded: UnsafeRawBufferPointer(rebasing: $0[1...]), encoding: encoding) }
}

private func quantized(
    _ raw: [UInt8], _ encoding: FloatEncoding, shape: [Int], granularity: Granularity
) throws -> (values: [Int8], scales: [Float]) {
    let count = shape.reduce(1, *)
    var values = [Int8](repeating: 0x55, count: count)
    var scales = [Float](repeating: -1, count: scaleCount(shape: shape, granularity: granularity))
    try raw.withUnsafeBytes { raw in
        try values.withUnsafeMutableBufferPointer { values in
            try scales.withUnsafeMutableBufferPointer { scales in
                try quantizeSymmetric(
                    encoded: UnsafeRawBufferPointer(rebasing: raw[1...]), encoding: encoding, shape: shape,
                    granularity: granularity, values: values, scales: scales)
            }
        }
    }
    return (values, scales)
}

/// Q8_0 of `x` in both layouts: interleaved ggml blocks, and codes and scales apart.
private func q8_0(_ x: [Float]) throws -> (blocks: [UInt8], codes: [Int8], scales: [Float]) {
    var blocks = [UInt8](repeating: 0xAA, count: x.count / 32 * 34)
    var codes = [Int8](repeating: 0x55, count: x.count)
    var scales = [Float](repeating: -1, count: x.count / 32)
    try x.withUnsafeBufferPointer { input in
        try blocks.withUnsafeMutableBytes { try quantizeQ8_0(input, into: $0) }
        try codes.withUnsafeMutableBufferPointer { codes in
            try scales.withUnsafeMutableBufferPointer { try quantizeQ8_0(input, codes: codes, scales: $0) }
        }
    }
    return (blocks, codes, scales)
}

private func randomFloats(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Float.random(in: -1...1, using: &generator) * scale }
}
