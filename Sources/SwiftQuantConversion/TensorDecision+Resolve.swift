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
    /// The weight to store, when the final action quantizes.
    public var quantized: QuantizedWeight?
    /// The error of `quantized`; `nil` when the tensor is kept.
    public var metrics: QuantizationErrorMetrics?
    /// Every scheme tried, in order, with its error.
    public var attempts: [QuantizationAttempt]
    /// What the `min_snr_db` check did, for the report:
    /// `per-channel SNR 31.2 dB < 38 → per-group(128) 39.0 dB`. `nil` when there was no check.
    public var note: String?
}

/// One quantization tried while resolving a decision.
public struct QuantizationAttempt: Sendable, Equatable {
    /// The scheme tried, as it applied to the tensor's shape.
    public var scheme: QuantizationDescriptor
    public var metrics: QuantizationErrorMetrics

    /// The scheme's granularity (per group of 32 for Q8_0).
    public var granularity: Granularity { scheme.granularity }
}

/// Quantizes a tensor as `decision` says, in the scheme `storing` picks for a granularity (the
/// writer's `TensorWriter.storedScheme(forPlanned:)`; symmetric INT8 by default), and applies
/// its `min_snr_db` to what is stored: when the SNR at the chosen scheme is lower, it tries per
/// group (`decision.fallbackGroupSize`) if that stores differently, and when that is still
/// lower (or per group was already the choice, or does not divide the rows) it keeps the
/// tensor as `decision.fallbackKeepDType`.
///
/// `plan --measure` and `convert` both call this, so the report and the checkpoint agree.
/// A keep decision returns at once without looking at `weights`.
/// Throws when a weight is NaN or infinite, or the scheme cannot hold the shape.
public func resolve(
    _ decision: TensorDecision, weights: FloatTensor,
    storing: (Granularity) -> QuantizationDescriptor = { .symmetricInt8($0) }
) throws(KernelError) -> ResolvedDecision {
    try resolve(decision, shape: weights.shape, storing: storing) { (descriptor) throws(KernelError) in
        let scheme = descriptor.scheme
        let weight = try scheme.quantize(weights)
        return (weight, scheme.errorMetrics(of: weight, original: weights))
    }
}

/// ``resolve(_:weights:storing:)`` with the quantization left to `quantize`, which returns
/// the weight in a scheme and its error: the converter quantizes straight from the source's
/// encoded bytes with it (the reference arithmetic needs the weights in their own dtype).
package func resolve(
    _ decision: TensorDecision, shape: [Int], storing: (Granularity) -> QuantizationDescriptor,
    quantize: (QuantizationDescriptor) throws(KernelError) -> (QuantizedWeight, QuantizationErrorMetrics)
) throws(KernelError) -> ResolvedDecision {
    let resolved = try resolve(decision, shape: shape, storing: storing, scheme: \.scheme, quantize: quantize)
    return ResolvedDecision(
        action: resolved.action, quantized: resolved.chosen, metrics: resolved.metrics, attempts: resolved.attempts,
        note: resolved.note)
}

/// The `min_snr_db` logic of ``resolve(_:weights:storing:)`` over any result of quantizing:
/// a whole weight, or what a tensor quantized in slices needs to be written later (the
/// converter measures a giant tensor slice by slice, keeping only the metrics).
package func resolve<Candidate>(
    _ decision: TensorDecision, shape: [Int], storing: (Granularity) -> QuantizationDescriptor,
    scheme: (Candidate) -> QuantizationDescriptor,
    quantize: (QuantizationDescriptor) throws(KernelError) -> (Candidate, QuantizationErrorMetrics)
) throws(KernelError) -> (action: TensorAction, chosen: Candidate?, metrics: QuantizationErrorMetrics?, attempts: [QuantizationAttempt], note: String?) {
    guard case .quantize(let granularity) = decision.action else {
        return (decision.action, nil, nil, [], nil)
    }
    let (first, firstMetrics) = try quantize(storing(granularity))
    let firstScheme = scheme(first)
    var attempts = [QuantizationAttempt(scheme: firstScheme, metrics: firstMetrics)]
    guard let threshold = decision.minimumSNRDecibels else {
        return (.quantize(firstScheme.granularity), first, firstMetrics, attempts, nil)
    }
    var note = "\(firstScheme) SNR \(decibels(firstMetrics.snrDecibels))"
    if firstMetrics.snrDecibels >= threshold {
        note += " ≥ \(decibels(threshold))"
        return (.quantize(firstScheme.granularity), first, firstMetrics, attempts, note)
    }
    note += " < \(decibels(threshold))"

    let grouped = Granularity.perGroup(size: decision.fallbackGroupSize)
    let groupedScheme = storing(grouped)
    // A scheme whose granularity is fixed (Q8_0) stores per group the same way: nothing to retry.
    if firstScheme.granularity.groupSize == nil && groupedScheme != firstScheme {
        if groupedScheme.effective(for: shape) == groupedScheme && groupedScheme.unsupportedReason(for: shape) == nil {
            let (retry, retryMetrics) = try quantize(groupedScheme)
            let retryScheme = scheme(retry)
            attempts.append(QuantizationAttempt(scheme: retryScheme, metrics: retryMetrics))
            note += " → \(groupedScheme) \(decibels(retryMetrics.snrDecibels))"
            if retryMetrics.snrDecibels >= threshold {
                return (.quantize(retryScheme.granularity), retry, retryMetrics, attempts, note)
            }
            note += " < \(decibels(threshold))"
        } else {
            note += " → \(groupedScheme) does not divide \(matrixView(of: shape).columns) columns"
        }
    }
    note += " → keep \(decision.fallbackKeepDType.rawValue)"
    return (.keep(decision.fallbackKeepDType), nil, nil, attempts, note)
}

/// `31.2 dB`; thresholds like `38` print without a fraction.
private func decibels(_ value: Float) -> String {
    if value == value.rounded() && abs(value) < 1e6 { return String(Int(value)) + " dB" }
    return String(format: "%.1f dB", Double(value))
}
