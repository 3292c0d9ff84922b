import Testing
import SwiftQuant

@Suite("min_snr_db resolution")
struct ResolveTests {
    /// Rows of small weights, each with one large outlier in its first 32 columns: per channel
    /// the outlier sets every scale, so the small weights lose precision; per group(32) only
    /// the first group of each row pays for it.
    static func outlierWeights(rows: Int = 8, columns: Int = 128) -> FloatTensor {
        var storage: [Float] = []
        for row in 0..<rows {
            for column in 0..<columns {
                let small = Float(((row * 131 + column * 71) % 97) - 48) / 48 * 0.01
                storage.append(column == (row * 5) % 32 ? 2.0 : small)
            }
        }
        return FloatTensor(uncheckedShape: [rows, columns], storage: storage)
    }

    static func decision(_ weights: FloatTensor, minimum: Float?, groupSize: Int = 32) -> TensorDecision {
        TensorDecision(
            tensor: tensor("w.weight", weights.shape), action: .quantize(.perChannel), reason: "test",
            minimumSNRDecibels: minimum, fallbackGroupSize: groupSize, fallbackKeepDType: .f16)
    }

    /// The SNR the kernels give at `granularity`, measured independently of `resolve`.
    static func snr(_ weights: FloatTensor, _ granularity: Granularity) throws -> Float {
        quantizationError(original: weights, quantized: try quantizeSymmetric(weights, granularity: granularity)).snrDecibels
    }

    @Test func passingTheThresholdKeepsTheChosenGranularity() throws {
        let weights = Self.outlierWeights()
        let perChannel = try Self.snr(weights, .perChannel)
        let resolved = try resolve(Self.decision(weights, minimum: perChannel - 1), weights: weights)
        #expect(resolved.action == .quantize(.perChannel))
        #expect(resolved.quantized?.granularity == .perChannel)
        #expect(resolved.metrics?.snrDecibels == perChannel)
        #expect(resolved.attempts.count == 1)
        #expect(resolved.note?.hasPrefix("per-channel SNR ") == true)
        #expect(resolved.note?.contains("≥") == true)
    }

    @Test func withoutAThresholdThereIsNoNote() throws {
        let weights = Self.outlierWeights()
        let resolved = try resolve(Self.decision(weights, minimum: nil), weights: weights)
        #expect(resolved.action == .quantize(.perChannel))
        #expect(resolved.note == nil)
        #expect(resolved.quantized == (try quantizeSymmetric(weights, granularity: .perChannel)))
    }

    @Test func aLowSNRRetriesPerGroup() throws {
        let weights = Self.outlierWeights()
        let perChannel = try Self.snr(weights, .perChannel)
        let perGroup = try Self.snr(weights, .perGroup(size: 32))
        #expect(perGroup > perChannel + 3, "the fixture must make per group clearly better")
        let threshold = (perChannel + perGroup) / 2
        let resolved = try resolve(Self.decision(weights, minimum: threshold), weights: weights)
        #expect(resolved.action == .quantize(.perGroup(size: 32)))
        #expect(resolved.quantized == (try quantizeSymmetric(weights, granularity: .perGroup(size: 32))))
        #expect(resolved.metrics?.snrDecibels == perGroup)
        #expect(resolved.attempts.map(\.granularity) == [.perChannel, .perGroup(size: 32)])
        let note = try #require(resolved.note)
        #expect(note.hasPrefix("per-channel SNR "))
        #expect(note.contains("→ per-group(32) "))
        #expect(!note.contains("keep"))
    }

    @Test func aTensorBelowTheThresholdEvenPerGroupIsKept() throws {
        let weights = Self.outlierWeights()
        let resolved = try resolve(Self.decision(weights, minimum: 500), weights: weights)
        #expect(resolved.action == .keep(.f16))
        #expect(resolved.quantized == nil)
        #expect(resolved.metrics == nil)
        #expect(resolved.attempts.count == 2)
        #expect(resolved.note?.hasSuffix("< 500 dB → keep f16") == true)
    }

    @Test func aGroupSizeThatDoesNotDivideTheRowsGoesStraightToKeep() throws {
        let weights = Self.outlierWeights(rows: 4, columns: 48)
        let resolved = try resolve(Self.decision(weights, minimum: 500, groupSize: 32), weights: weights)
        #expect(resolved.action == .keep(.f16))
        #expect(resolved.attempts.count == 1)
        #expect(resolved.note?.contains("per-group(32) does not divide 48 columns → keep f16") == true)
    }

    @Test func alreadyPerGroupIsKeptWithoutARetry() throws {
        let weights = Self.outlierWeights()
        var decision = Self.decision(weights, minimum: 500)
        decision.action = .quantize(.perGroup(size: 64))
        let resolved = try resolve(decision, weights: weights)
        #expect(resolved.action == .keep(.f16))
        #expect(resolved.attempts.map(\.granularity) == [.perGroup(size: 64)])
    }

    @Test func keepDecisionsDoNotQuantize() throws {
        let weights = Self.outlierWeights()
        var decision = Self.decision(weights, minimum: 30)
        decision.action = .keep(.bf16)
        let resolved = try resolve(decision, weights: weights)
        #expect(resolved.action == .keep(.bf16))
        #expect(resolved.attempts.isEmpty)
    }

    @Test func nonFiniteWeightsThrow() {
        var weights = Self.outlierWeights()
        weights.storage[17] = .nan
        #expect(throws: KernelError.self) { try resolve(Self.decision(weights, minimum: 30), weights: weights) }
    }
}
