import Foundation
import Testing
import SwiftQuant

@Suite struct QuantizationErrorTests {
    // w = [254, 3, -1, 0.5, 31], per tensor: scale 2.
    // q = [127, 2 (1.5), -0 (-0.5), 0 (0.25), 16 (15.5)]; dequantized = [254, 4, 0, 0, 32].
    // |err| = [0, 1, 1, 0.5, 1].
    // max|w| = 254 → threshold 25.4: only 254 (err 0) and 31 (err 1) are significant.
    private let original = try! FloatTensor(shape: [5], storage: [254, 3, -1, 0.5, 31])

    @Test func dequantizeRestoresCodesTimesScale() throws {
        let quantized = try quantizeSymmetric(original, granularity: .perTensor)
        #expect(quantized.int8Codes == [127, 2, 0, 0, 16])
        #expect(dequantize(quantized).storage == [254, 4, 0, 0, 32])
    }

    @Test func fourMetricsOnAHandComputedExample() throws {
        let metrics = quantizationError(original: original, quantized: try quantizeSymmetric(original, granularity: .perTensor))
        #expect(metrics.maxAbsError == 1)
        #expect(metrics.meanAbsError == 0.7)
        #expect(metrics.relativeErrorPercent == Float(1) / 31 * 100)
        // mean(w²) = (64516 + 9 + 1 + 0.25 + 961) / 5; mean(err²) = (0 + 1 + 1 + 0.25 + 1) / 5.
        let expectedSNR = 10 * log10((65_487.25 / 5) / (3.25 / 5 + 1e-10))
        #expect(abs(Double(metrics.snrDecibels) - expectedSNR) < 1e-4)
    }

    @Test func perfectReconstructionAndEmptyTensors() throws {
        let exact = try FloatTensor(shape: [2, 2], storage: [127, -1, 0, 254])
        let metrics = quantizationError(original: exact, quantized: try quantizeSymmetric(exact, granularity: .perChannel))
        #expect(metrics.maxAbsError == 0 && metrics.meanAbsError == 0 && metrics.relativeErrorPercent == 0)
        // mean(w²) / 1e-10 = (16129 + 1 + 0 + 64516) / 4 · 1e10.
        #expect(abs(Double(metrics.snrDecibels) - 10 * log10(80_646.0 / 4 / 1e-10)) < 1e-3)
        let empty = try FloatTensor(shape: [0], storage: [])
        #expect(quantizationError(original: empty, quantized: try quantizeSymmetric(empty, granularity: .perTensor)) == .empty)
        let zeros = try FloatTensor(shape: [3], storage: [0, 0, 0])
        let zeroMetrics = quantizationError(original: zeros, quantized: try quantizeSymmetric(zeros, granularity: .perTensor))
        #expect(zeroMetrics.relativeErrorPercent == 0 && zeroMetrics.maxAbsError == 0)
    }

    @Test func encodedAndBufferVariantsAgree() throws {
        // The same example in fp16: all five values are exact in binary16.
        let patterns: [UInt16] = [0x5BF0, 0x4200, 0xBC00, 0x3800, 0x4FC0]
        let quantized = try quantizeSymmetric(original, granularity: .perTensor)
        let expected = quantizationError(original: original, quantized: quantized)
        let encoded = bytes(of: patterns).withUnsafeBytes { raw in
            quantized.withInt8Codes { values in
                quantized.scales.withUnsafeBufferPointer { scales in
                    quantizationError(encoded: raw, encoding: .float16, values: values, scales: scales)
                }
            }
        }
        #expect(encoded == expected)
        let buffers = original.storage.withUnsafeBufferPointer { input in
            quantized.withInt8Codes { values in
                quantized.scales.withUnsafeBufferPointer { scales in
                    quantizationError(original: input, values: values, scales: scales)
                }
            }
        }
        #expect(buffers == expected)
    }

    @Test func metricsDoNotDependOnThreadCount() throws {
        var generator = SeededGenerator(seed: 7)
        let storage = (0..<(300 * 1_001)).map { _ in Float.random(in: -1...1, using: &generator) }
        let tensor = try FloatTensor(shape: [300, 1_001], storage: storage)
        for granularity in [Granularity.perTensor, .perChannel, .perGroup(size: 7)] {
            let quantized = try quantizeSymmetric(tensor, granularity: granularity)
            let reference = withKernelThreads(1) { quantizationError(original: tensor, quantized: quantized) }
            for threads in [2, 8] {
                #expect(withKernelThreads(threads) { quantizationError(original: tensor, quantized: quantized) } == reference)
            }
            // Compare with a straightforward Double computation: means within Float rounding.
            let restored = dequantize(quantized).storage
            var sumAbs = 0.0, maxAbs: Float = 0
            for (w, r) in zip(storage, restored) {
                sumAbs += Double(abs(w - r))
                maxAbs = max(maxAbs, abs(w - r))
            }
            #expect(reference.maxAbsError == maxAbs)
            #expect(abs(Double(reference.meanAbsError) - sumAbs / Double(storage.count)) < 1e-6 * sumAbs / Double(storage.count))
        }
    }
}
