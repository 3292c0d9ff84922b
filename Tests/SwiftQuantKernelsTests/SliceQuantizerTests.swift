import Testing
import SwiftQuant

/// The slice API and the one-pass Q8_0 quantize-and-measure, against the whole-tensor
/// functions they are built on.
@Suite struct SliceQuantizerTests {
    /// `floats` encoded little-endian in `encoding`.
    func encode(_ floats: [Float], _ encoding: FloatEncoding) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: floats.count * encoding.byteWidth)
        floats.withUnsafeBufferPointer { input in bytes.withUnsafeMutableBytes { encodeFloats(input, as: encoding, into: $0) } }
        return bytes
    }

    @Test("Q8_0 quantize-and-measure equals quantize then measure",
          arguments: [FloatEncoding.float16, .bfloat16, .float32], [[3, 64], [40, 4096], [1, 65536 + 96]])
    func q8_0OnePass(encoding: FloatEncoding, shape: [Int]) throws {
        let count = shape.reduce(1, *)
        let bytes = encode(pseudoRandomFloats(count, seed: UInt64(count), scale: 0.3), encoding)
        try bytes.withUnsafeBytes { raw in
            let scheme = Q8_0()
            let (weight, metrics) = try scheme.quantizeAndMeasure(encoded: raw, encoding: encoding, shape: shape)
            let expected = try scheme.quantize(encoded: raw, encoding: encoding, shape: shape)
            #expect(weight == expected)
            #expect(metrics == scheme.errorMetrics(of: expected, encoded: raw, encoding: encoding))
        }
    }

    @Test("symmetric INT8 quantize-and-measure equals quantize then measure",
          arguments: [FloatEncoding.float16, .bfloat16, .float32, .float64],
          [Granularity.perChannel, .perTensor, .perGroup(size: 32), .perGroup(size: 24), .perGroup(size: 40)])
    func symmetricOnePass(encoding: FloatEncoding, granularity: Granularity) throws {
        for shape in [[3, 120], [12, 5640], [1, 65536 + 120], [0, 8]] {
            let count = shape.reduce(1, *)
            var floats = pseudoRandomFloats(count, seed: UInt64(count + 1), scale: 0.3)
            if count > 200 { for i in 120..<240 { floats[i] = 0 } }  // a zero row or group: scale 1
            let bytes = encode(floats, encoding)
            try bytes.withUnsafeBytes { raw in
                let scheme = SymmetricInt8(granularity: granularity)
                let (weight, metrics) = try scheme.quantizeAndMeasure(encoded: raw, encoding: encoding, shape: shape)
                let expected = try scheme.quantize(encoded: raw, encoding: encoding, shape: shape)
                #expect(weight == expected, "\(shape) \(granularity) \(encoding)")
                #expect(metrics == scheme.errorMetrics(of: expected, encoded: raw, encoding: encoding), "\(shape) \(granularity) \(encoding)")
            }
        }
    }

    @Test("symmetric INT8 quantize-and-measure reports the first non-finite weight", arguments: [Granularity.perChannel, .perTensor])
    func symmetricOnePassNonFinite(granularity: Granularity) throws {
        var floats = pseudoRandomFloats(4 * 65536, seed: 3)
        floats[200_000] = -.infinity
        floats[100_001] = .nan
        let bytes = encode(floats, .float32)
        let error = bytes.withUnsafeBytes { raw in
            #expect(throws: KernelError.self) {
                try SymmetricInt8(granularity: granularity).quantizeAndMeasure(encoded: raw, encoding: .float32, shape: [4, 65536])
            }
        }
        guard case .nonFiniteValue(let index, let value) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(index == 100_001 && value.isNaN)
    }

    @Test("Q8_0 quantize-and-measure reports the first non-finite weight as quantize does")
    func q8_0OnePassNonFinite() throws {
        var floats = pseudoRandomFloats(2 * 65536, seed: 3)
        floats[70_000] = .infinity
        floats[90_000] = .nan
        let bytes = encode(floats, .float32)
        let error = bytes.withUnsafeBytes { raw in
            #expect(throws: KernelError.self) { try Q8_0().quantizeAndMeasure(encoded: raw, encoding: .float32, shape: [2, 65536]) }
        }
        guard case .nonFiniteValue(let index, let value) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(index == 70_000 && value == .infinity)
    }

    @Test("slices of whole rows give the whole tensor's codes, scales and metrics",
          arguments: [QuantizationDescriptor.symmetricInt8(.perChannel), .symmetricInt8(.perTensor), .symmetricInt8(.perGroup(size: 32)), .q8_0])
    func slicesEqualWhole(scheme: QuantizationDescriptor) throws {
        let shape = [1024, 128]
        var floats = pseudoRandomFloats(shape[0] * shape[1], seed: 9)
        floats[1000 * 128 + 7] = 1.5  // the per-tensor maximum sits in the last slice
        let bytes = encode(floats, .float16)
        try bytes.withUnsafeBytes { raw in
            let whole = try scheme.scheme.quantize(encoded: raw, encoding: .float16, shape: shape)
            let wholeMetrics = scheme.scheme.errorMetrics(of: whole, encoded: raw, encoding: .float16)
            let quantizer = try SliceQuantizer(
                scheme: scheme, shape: shape, encoding: .float16, absmax: absmax(encoded: raw, encoding: .float16))
            #expect(quantizer.metricsRowAlignment == 512)
            for rowsPerSlice in [512, 100] {
                var codes: [Int8] = [], scales: [Float] = []
                var accumulator = QuantizationErrorAccumulator(), onePass = QuantizationErrorAccumulator()
                for start in stride(from: 0, to: shape[0], by: rowsPerSlice) {
                    let rows = start..<min(shape[0], start + rowsPerSlice)
                    let slice = UnsafeRawBufferPointer(rebasing: raw[rows.lowerBound * 256..<rows.upperBound * 256])
                    let weight = try quantizer.quantize(slice: slice, rows: rows)
                    #expect(weight.scheme == whole.scheme)
                    #expect(try quantizer.quantizeAndMeasure(slice: slice, rows: rows, into: &onePass) == weight)
                    codes += weight.int8Codes
                    if scheme.granularity != .perTensor || scales.isEmpty { scales += weight.scales }
                    quantizer.measure(weight, encoded: slice, into: &accumulator)
                }
                #expect(onePass.metrics == accumulator.metrics)
                #expect(codes == whole.int8Codes)
                #expect(scales == whole.scales)
                if rowsPerSlice % quantizer.metricsRowAlignment == 0 {
                    #expect(accumulator.metrics == wholeMetrics)
                } else {
                    // Another summation order: equal to within Float32 rounding of the sums.
                    #expect(accumulator.metrics.maxAbsError == wholeMetrics.maxAbsError)
                    #expect(accumulator.metrics.relativeErrorPercent == wholeMetrics.relativeErrorPercent)
                    #expect(abs(accumulator.metrics.snrDecibels - wholeMetrics.snrDecibels) <= 1e-4 * abs(wholeMetrics.snrDecibels))
                }
            }
        }
    }
}
