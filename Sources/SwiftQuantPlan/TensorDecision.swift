import SwiftQuantCore

/// The float type a kept tensor is stored as.
public enum KeepDType: String, Sendable, Hashable, CaseIterable {
    /// The source's own dtype, byte for byte.
    case source
    case f16
    case bf16
    case f32
}

/// What happens to one tensor.
public enum TensorAction: Sendable, Hashable {
    /// Quantize to INT8 at this granularity.
    case quantize(Granularity)
    /// Keep as float (or, for non-float tensors, exactly as stored).
    case keep(KeepDType)
}

/// The plan's decision for one tensor, with what decided it.
public struct TensorDecision: Sendable, Hashable {
    public var tensor: TensorInfo
    public var action: TensorAction
    /// What decided it, as `plan` prints it: `rules.yaml:7 "*.o_proj.weight"`,
    /// `default: name contains "embed"`, `default: 1-D`, `--skip "lm_head"`.
    public var reason: String
    /// When set, quantizing must reach this SNR or fall back (per group, then keep);
    /// see `resolve(_:weights:)`.
    public var minimumSNRDecibels: Float?
    /// The group size tried when a `min_snr_db` fallback goes per group.
    public var fallbackGroupSize: Int
    /// How the tensor is stored when a `min_snr_db` fallback keeps it.
    public var fallbackKeepDType: KeepDType
    /// Adjustments the report should show, such as per group falling back to per channel
    /// because the row length is not a multiple of the group size.
    public var notes: [String]

    public init(
        tensor: TensorInfo, action: TensorAction, reason: String,
        minimumSNRDecibels: Float? = nil, fallbackGroupSize: Int = 128,
        fallbackKeepDType: KeepDType = .source, notes: [String] = []
    ) {
        self.tensor = tensor
        self.action = action
        self.reason = reason
        self.minimumSNRDecibels = minimumSNRDecibels
        self.fallbackGroupSize = fallbackGroupSize
        self.fallbackKeepDType = fallbackKeepDType
        self.notes = notes
    }

    /// Whether the decision is to quantize.
    public var quantizes: Bool {
        if case .quantize = action { return true }
        return false
    }
}
