import Testing
import SwiftQuant

/// The SIMD, fused and parallel paths against the element-by-element reference in
/// ScalarReference.swift, bit for bit, on random data.
@Suite struct KernelEquivalenceTests {
    static let shapes: [[Int]] = [
        [], [1], [15], [16], [17], [1, 1], [3, 17], [7, 33], [5, 100], [64, 129], [2, 3, 5], [33, 48],
        [4, 256], [3, 1_000], [1, 70_001], [9, 16_400], [200_001],
    ]
    static let granularities: [Granularity] = [
        .perTensor, .perChannel, .perGroup(size: 3), .perGroup(size: 16), .perGroup(size: 32), .perGroup(size: 128),
    ]

    /// Weights with the awkward cases mixed in: ties, zero rows, subnormals, signed zeros, outliers.
    static func weights(_ count: Int, columns: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        var w = (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
        for i in stride(from: 0, to: count, by: 97) { w[i] = Float(Int.random(in: -127...127, using: &generator)) + 0.5 }
        for i in stride(from: 5, to: count, by: 211) { w[i] = 127 }  // exact-scale rows: the halves above tie
        for i in stride(from: 11, to: count, by: 389) { w[i] = Float.leastNonzeroMagnitude * Float(i % 300) }
        for i in stride(from: 13, to: count, by: 401) { w[i] = -0.0 }
        for i in stride(from: 17, to: count, by: 1_009) { w[i] = 3e4 }
        if columns > 0, count >= 3 * columns {
            for i in columns..<(2 * columns) { w[i] = 0 }  // a zero row
        }
        return w
    }

    @Test(arguments: [1, 2, 8])
    func float32MatchesScalarReference(threads: Int) throws {
        for (n, shape) in Self.shapes.enumerated() {
            let count = shape.reduce(1, *)
            let columns = shape.count < 2 ? (shape.first ?? 1) : shape.dropFirst().reduce(1, *)
            let w = Self.weights(count, columns: columns, seed: UInt64(n))
            let tensor = try FloatTensor(shape: shape, storage: w)
            for granularity in Self.granularities {
                let expected = scalarQuantize(w, blockLength: scalarBlockLength(shape: shape, granularity: granularity))
                let actual = try withKernelThreads(threads) { try quantizeSymmetric(tensor, granularity: granularity) }
                #expect(actual.int8Codes == expected.values, "\(shape) \(granularity)")
                #expect(actual.scales == expected.scales, "\(shape) \(granularity)")
                #expect(actual.granularity == effectiveGranularity(for: shape, requested: granularity))
            }
        }
    }

    @Test(arguments: [FloatEncoding.float16, .bfloat16, .float64, .float32], [1, 2, 8])
    func encodedInputMatchesScalarReferenceOnDecodedFloats(encoding: FloatEncoding, threads: Int) throws {
        var generator = SeededGenerator(seed: 99)
        for shape in [[1], [17], [3, 17], [7, 33], [64, 129], [5, 2, 64], [2, 70_016]] {
            let count = shape.reduce(1, *)
            // Random finite bit patterns cover subnormals, signed zeros and every exponent.
            let raw: [UInt8]
            let decoded: [Float]
            switch encoding {
            case .float16:
                let patterns = (0..<count).map { _ in randomFinite16(&generator, exponentMask: 0x7C00) }
                raw = bytes(of: patterns, offset: 1)
                decoded = patterns.map { Float(Float16(bitPattern: $0)) }
            case .bfloat16:
                let patterns = (0..<count).map { _ in randomFinite16(&generator, exponentMask: 0x7F80) }
                raw = bytes(of: patterns, offset: 1)
                decoded = patterns.map { Float(bitPattern: UInt32($0) << 16) }
            case .float64:
                let values = (0..<count).map { _ in Double.random(in: -1e10...1e10, using: &generator) * (Bool.random(using: &generator) ? 1 : 1e-40) }
                raw = bytes(of: values, offset: 1)
                decoded = values.map { Float($0) }
            case .float32:
                let values = (0..<count).map { _ in Float.random(in: -3...3, using: &generator) }
                raw = bytes(of: values, offset: 1)
                decoded = values
            }
            for granularity in [Granularity.perTensor, .perChannel, .perGroup(size: 16)] {
                let effective = effectiveGranularity(for: shape, requested: granularity)
                let expected = scalarQuantize(decoded, blockLength: scalarBlockLength(shape: shape, granularity: effective))
                var values = [Int8](repeating: 0, count: count)
                var scales = [Float](repeating: 0, count: scaleCount(shape: shape, granularity: effective))
                try withKernelThreads(threads) {
                    try raw.withUnsafeBytes { raw in
                        try values.withUnsafeMutableBufferPointer { values in
                            try scales.withUnsafeMutableBufferPointer { scales in
                                try quantizeSymmetric(
                                    encoded: UnsafeRawBufferPointer(rebasing: raw[1...]), encoding: encoding, shape: shape,
                                    granularity: effective, values: values, scales: scales)
                            }
                        }
                    }
                }
                #expect(values == expected.values, "\(encoding) \(shape) \(granularity)")
                #expect(scales == expected.scales, "\(encoding) \(shape) \(granularity)")
            }
        }
    }

    /// Every finite binary16 value, sorted by magnitude so that each group of 16 spans a
    /// narrow range and its codes exercise every decoded bit, subnormals included.
    @Test func everyFiniteFloat16QuantizesLikeItsExactValue() throws {
        let patterns = (UInt16(0)...UInt16.max).filter { $0 & 0x7C00 != 0x7C00 }
            .sorted { ($0 & 0x7fff, $0) < ($1 & 0x7fff, $1) }
        let decoded = patterns.map { Float(Float16(bitPattern: $0)) }
        for size in [16, 32] {
            let shape = [patterns.count / 64, 64]
            let expected = scalarQuantize(decoded, blockLength: size)
            var values = [Int8](repeating: 0, count: patterns.count)
            var scales = [Float](repeating: 0, count: patterns.count / size)
            try bytes(of: patterns).withUnsafeBytes { raw in
                try values.withUnsafeMutableBufferPointer { values in
                    try scales.withUnsafeMutableBufferPointer { scales in
                        try quantizeSymmetric(
                            encoded: raw, encoding: .float16, shape: shape, granularity: .perGroup(size: size),
                            values: values, scales: scales)
                    }
                }
            }
            // Counts rather than whole arrays keep a failure report readable.
            #expect(zip(values, expected.values).filter { $0 != $1 }.count == 0, "group \(size)")
            #expect(zip(scales, expected.scales).filter { $0 != $1 }.count == 0, "group \(size)")
            // The metrics read the same decoded values: any decoding slip changes the sums.
            let fromBytes = bytes(of: patterns).withUnsafeBytes { raw in
                values.withUnsafeBufferPointer { values in
                    scales.withUnsafeBufferPointer { scales in
                        quantizationError(encoded: raw, encoding: .float16, values: values, scales: scales)
                    }
                }
            }
            let fromFloats = decoded.withUnsafeBufferPointer { input in
                values.withUnsafeBufferPointer { values in
                    scales.withUnsafeBufferPointer { scales in
                        quantizationError(original: input, values: values, scales: scales)
                    }
                }
            }
            #expect(fromBytes == fromFloats)
        }
    }

    @Test(arguments: [1, 2, 8])
    func dequantizeMatchesScalarProducts(threads: Int) throws {
        for shape in [[3, 17], [64, 129], [200_001]] {
            let count = shape.reduce(1, *)
            let tensor = try FloatTensor(shape: shape, storage: Self.weights(count, columns: shape.last!, seed: 5))
            for granularity in Self.granularities {
                let quantized = try quantizeSymmetric(tensor, granularity: granularity)
                let restored = withKernelThreads(threads) { dequantize(quantized) }
                let block = count / quantized.scales.count
                let codes = quantized.int8Codes
                let expected = codes.indices.map { Float(codes[$0]) * quantized.scales[$0 / block] }
                #expect(restored.storage == expected, "\(shape) \(granularity)")
            }
        }
    }
}

private func randomFinite16(_ generator: inout SeededGenerator, exponentMask: UInt16) -> UInt16 {
    while true {
        let pattern = UInt16(truncatingIfNeeded: generator.next())
        if pattern & exponentMask != exponentMask { return pattern }
    }
}
