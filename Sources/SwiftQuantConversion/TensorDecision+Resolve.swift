import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantSafeTensors
import SwiftQuantGGUF
import SwiftQuantCheckpoint

/// A decision after quantizing: what is stored, and the numbers that chose it.
public struct ResolvedDecision: Sendable {
    /// The final action: the decision's own, or per group or keep after a `min_snr_db` fallback.
    public var action: TensorAction
    /// The INT8 tensor to store, when the final action quantizes.
    public var quantized: QuantizedTensor?
    /// The error of `quantized`; `nil` when the tensor is kept.
    public var metrics: QuantizationErrorMetrics?
    /// Every granularity tried, in order, with its error.
    public var attempts: [QuantizationAttempt]
    /// What the `min_snr_db` check did, for the report:
    /// `per-channel SNR 31.2 dB < 38 → per-group(128) 39.0 dB`. `nil` when there was no check.
    public var note: String?
}

/// One quantization tried while resolving a decision.
public struct QuantizationAttempt: Sendable, Equatable {
    public var granularity: Granularity
    public var metrics: QuantizationErrorMetrics
}

/// Quantizes a tensor as `decision` says and applies its `min_snr_db`: when the SNR at the
/// chosen granularity is lower, it tries per group (`decision.fallbackGroupSize`), and when
/// that is still lower (or per group was already the choice, or does not divide the rows)
/// it keeps the tensor as `decision.fallbackKeepDType`.
///
/// `plan --measure` and `convert` both call this, so the report and the checkpoint agree.
/// A keep decision returns at once without looking at `weights`.
/// Throws when a weight is NaN or infinite.
public func resolve(_ decision: TensorDecision, weights: FloatTensor) throws(KernelError) -> ResolvedDecision {
    guard case .quantize(let granularity) = decision.action else {
        return ResolvedDecision(action: decision.action, quantized: nil, metrics: nil, attempts: [], note: nil)
    }
    let first = try quantizeSymmetric(weights, granularity: granularity)
    let firstMetrics = quantizationError(original: weights, quantized: first)
    var attempts = [QuantizationAttempt(granularity: first.granularity, metrics: firstMetrics)]
    guard let threshold = decision.minimumSNRDecibels else {
        return ResolvedDecision(
            action: .quantize(first.granularity), quantized: first, metrics: firstMetrics, attempts: attempts, note: nil)
    }
    var note = "\(first.granularity) SNR \(decibels(firstMetrics.snrDecibels))"
    if firstMetrics.snrDecibels >= threshold {
        note += " ≥ \(decibels(threshold))"
        return ResolvedDecision(
            action: .quantize(first.granularity), quantized: first, metrics: firstMetrics, attempts: attempts, note: note)
    }
    note += " < \(decibels(threshold))"

    let grouped = Granularity.perGroup(size: decision.fallbackGroupSize)
    if first.granularity.groupSize == nil {
        if effectiveGranularity(for: weights.shape, requested: grouped) == grouped {
            let retry = try quantizeSymmetric(weights, granularity: grouped)
            let retryMetrics = quantizationError(original: weights, quantized: retry)
            attempts.append(QuantizationAttempt(granularity: grouped, metrics: retryMetrics))
            note += " → \(grouped) \(decibels(retryMetrics.snrDecibels))"
            if retryMetrics.snrDecibels >= threshold {
                return ResolvedDecision(
                    action: .quantize(grouped), quantized: retry, metrics: retryMetrics, attempts: attempts, note: note)
            }
            note += " < \(decibels(threshold))"
        } else {
            note += " → \(grouped) does not divide \(matrixView(of: weights.shape).columns) columns"
        }
    }
    let kept = TensorAction.keep(decision.fallbackKeepDType)
    note += " → keep \(decision.fallbackKeepDType.rawValue)"
    return ResolvedDecision(action: kept, quantized: nil, metrics: nil, attempts: attempts, note: note)
}

/// `31.2 dB`; thresholds like `38` print without a fraction.
private func decibels(_ value: Float) -> String {
    if value == value.rounded() && abs(value) < 1e6 { return String(Int(value)) + " dB" }
    return String(format: "%.1f dB", Double(value))
}
