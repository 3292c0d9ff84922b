import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantGGUF

/// One tensor of a ``PlanReport``: the plan's decision and, when measured, what quantizing it gave.
public struct PlannedTensor: Encodable, Sendable {
    public var decision: TensorDecision
    /// The block type the output stores quantized tensors in (GGUF: `Q8_0`), or `nil` for
    /// SwiftQuant's symmetric INT8.
    public var scheme: String?
    /// The result of quantizing it in memory, when the plan was measured.
    public var resolved: ResolvedDecision?
    /// Why it cannot be quantized (a NaN weight, …), when measuring found that.
    public var failure: String?
    /// Whether the plan was measured (the notes about `min_snr_db` depend on it).
    public var measured: Bool

    /// The final action: the decision's, or what a `min_snr_db` fallback made of it.
    public var finalAction: TensorAction { resolved?.action ?? decision.action }

    /// `quantize`, `keep`, or `error` when measuring found it cannot be quantized.
    public var action: String {
        if failure != nil { return "error" }
        return finalAction.quantizes ? "quantize" : "keep"
    }

    /// `per-channel`, `per-group(64)` or, for a kept tensor, the dtype it is stored as.
    public var stored: String {
        switch finalAction {
        case .quantize(let granularity): scheme ?? granularity.description
        case .keep(.source): decision.tensor.dtype.rawValue
        case .keep(let dtype): dtype.rawValue.uppercased()
        }
    }

    /// The plan's adjustments, a measuring failure and what a `min_snr_db` check did.
    public var notes: [String] {
        var notes = decision.notes
        if let failure { notes.append("cannot quantize: \(failure)") }
        if let note = resolved?.note {
            notes.append(note)
        } else if !measured, let minimum = decision.minimumSNRDecibels {
            notes.append("min_snr_db \(String(format: "%g", Double(minimum))) is checked by convert and plan --measure")
        }
        return notes
    }

    /// Bytes the tensor takes in a SwiftQuant checkpoint before compression: INT8 codes plus
    /// Float32 scales (Q8_0: 34 bytes per block of 32), or the kept dtype.
    public var plannedByteCount: Int {
        let tensor = decision.tensor
        switch finalAction {
        case .quantize(let granularity):
            if scheme != nil { return tensor.elementCount / 32 * 34 }
            return tensor.elementCount + 4 * scaleCount(shape: tensor.shape, granularity: granularity)
        case .keep(.source): return tensor.byteCount
        case .keep(.f32): return tensor.elementCount * 4
        case .keep(.f16), .keep(.bf16): return tensor.elementCount * 2
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, dtype, shape, action, granularity, groupSize = "group_size", keepDType = "keep_dtype", rule
        case minimumSNRDecibels = "min_snr_db", notes, snrDecibels = "snr_db", maxAbsError = "max_abs_error"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let tensor = decision.tensor
        try container.encode(tensor.name, forKey: .name)
        try container.encode(tensor.dtype.rawValue, forKey: .dtype)
        try container.encode(tensor.shape, forKey: .shape)
        try container.encode(finalAction.quantizes ? "quantize" : "keep", forKey: .action)
        switch finalAction {
        case .quantize(let granularity):
            try container.encode(granularity.name, forKey: .granularity)
            try container.encode(granularity.groupSize, forKey: .groupSize)
            try container.encodeNil(forKey: .keepDType)
        case .keep(let dtype):
            try container.encodeNil(forKey: .granularity)
            try container.encodeNil(forKey: .groupSize)
            try container.encode(dtype.rawValue, forKey: .keepDType)
        }
        try container.encode(decision.reason, forKey: .rule)
        if let minimum = decision.minimumSNRDecibels { try container.encode(ReportFloat(minimum), forKey: .minimumSNRDecibels) }
        try container.encode(notes, forKey: .notes)
        if measured {
            try container.encode(resolved?.metrics.map { ReportFloat($0.snrDecibels) }, forKey: .snrDecibels)
            try container.encode(resolved?.metrics.map { ReportFloat($0.maxAbsError) }, forKey: .maxAbsError)
        }
    }
}

/// What `convert` would do with each tensor of an input, and which rule decided it.
public struct PlanReport: Encodable, Sendable {
    public var tensors: [PlannedTensor]
    /// The labels of rules that decided no tensor.
    public var unusedRules: [String]
    /// The full plan, for its unused-rule explanations.
    public var plan: QuantizationPlan

    /// Tensors measuring found cannot be quantized, as errors naming file and tensor.
    public var failures: [TensorResolutionError]

    /// Source bytes of every tensor.
    public var sourceByteCount: Int { tensors.reduce(0) { $0 + $1.decision.tensor.byteCount } }
    /// The estimated checkpoint size before compression (see ``PlannedTensor/plannedByteCount``).
    public var plannedByteCount: Int { tensors.reduce(0) { $0 + $1.plannedByteCount } }

    enum CodingKeys: String, CodingKey { case tensors, unusedRules = "unused_rules" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tensors, forKey: .tensors)
        try container.encode(unusedRules, forKey: .unusedRules)
    }
}

/// The plan for the checkpoint at `input` under `rules`: what `swiftquant plan` shows.
///
/// With `measure`, each tensor to quantize is quantized in memory (nothing is written) to
/// report its error and apply `min_snr_db` fallbacks as `convert` would; a tensor that cannot
/// be quantized is recorded in ``PlanReport/failures`` and measuring goes on.
///
/// - Parameters:
///   - target: the output the plan is for. For `PlanTarget.gguf(architecture:)` the plan
///     keeps what llama.cpp never quantizes, is adapted to what GGUF stores, and tensors are
///     measured as Q8_0; a `nil` architecture takes a GGUF input's own.
///   - measuring: called before each tensor is measured with its position among the
///     tensors to measure (from 1), their count and its name.
public func plan(
    input: String, rules: RulesConfig = RulesConfig(), measure: Bool = false, target: PlanTarget = .anyFormat,
    registry: FormatRegistry = .standard,
    measuring: (_ position: Int, _ count: Int, _ name: String) -> Void = { _, _, _ in }
) throws -> PlanReport {
    var source = try registry.openTensorSource(at: input)
    var target = target
    var gguf = false
    if case .gguf(let architecture) = target {
        gguf = true
        // A Hugging Face folder is planned under the GGUF names the file will hold.
        source = try HuggingFaceGGUFSource.view(of: source, input: input, architecture: architecture)
        target = .gguf(architecture: architecture ?? source.metadata["general.architecture"].flatMap {
            if case .string(let name) = $0 { return name } else { return nil }
        })
    }
    let plan = QuantizationPlan(tensors: source.tensors, config: rules, target: target)
    let decisions: [TensorDecision]
    if case .gguf(let architecture) = target {
        decisions = try plan.decisions.adaptedToGGUF(architecture: architecture, source: source)
    } else {
        decisions = plan.decisions
    }
    var rows = decisions.map { PlannedTensor(decision: $0, scheme: gguf ? "Q8_0" : nil, measured: measure) }
    var failures: [TensorResolutionError] = []
    if measure {
        let count = rows.count { $0.decision.quantizes }
        var position = 0
        for index in rows.indices where rows[index].decision.quantizes {
            let name = rows[index].decision.tensor.name
            position += 1
            measuring(position, count, name)
            do {
                rows[index].resolved = gguf
                    ? try source.resolve(rows[index].decision, storing: { _ in .q8_0 })
                    : try source.resolve(rows[index].decision)
            } catch let error as TensorResolutionError {
                // Carry on, so the plan shows every tensor convert would stop at.
                guard case .cannotQuantize(_, _, let problem) = error else { throw error }
                rows[index].failure = "\(problem)"
                failures.append(error)
            }
            source.releasePages(for: name)
        }
    }
    return PlanReport(
        tensors: rows, unusedRules: plan.unusedRules.map(\.rule.label), plan: plan, failures: failures)
}


extension TensorAction {
    /// Whether the action quantizes.
    public var quantizes: Bool {
        if case .quantize = self { return true }
        return false
    }
}
