import SwiftQuantCore

/// A rules config: the settings and the ordered rules that decide how each tensor is stored.
///
/// Read one with ``load(path:)`` (YAML or JSON) and apply the command-line shortcuts with
/// ``applying(_:)``; ``QuantizationPlan`` turns it into one decision per tensor.
///
/// ```yaml
/// defaults: true            # the built-in skips; see QuantizationPlan
/// granularity: per-channel  # per-tensor | per-channel | per-group
/// group_size: 128           # for per-group, and for min_snr_db's per-group retry
/// keep_dtype: source        # source | f16 | bf16 | f32, for kept float tensors
/// rules:
///   - match: "*.o_proj.weight"
///     min_snr_db: 38
/// ```
public struct RulesConfig: Sendable, Hashable {
    /// The file the config was read from, as the user spelled it; `nil` for a config built in code.
    public var path: String?
    /// Whether the built-in name skips (`lm_head`, embeddings) apply. `defaults: false`
    /// and `--no-default-skips` turn them off. Tensors that cannot be quantized at all
    /// (fewer than 2 dimensions, not float) are kept either way.
    public var useDefaults: Bool
    /// The granularity of every quantized tensor whose rule does not set one.
    public var granularity: GranularityKind
    /// The group size for per group, when a rule does not set one.
    public var groupSize: Int
    /// How kept float tensors are stored, when a rule does not say.
    public var keepDType: KeepDType
    /// User rules, in the order they are tried: the first that matches a tensor decides it.
    public var rules: [QuantizationRule]
    /// Defaults that replace the built-in ones for tensors no rule decides (`preset:` or
    /// `--preset`); `nil` for SwiftQuant's own.
    public var preset: RulesPreset?

    public init(
        path: String? = nil, useDefaults: Bool = true, granularity: GranularityKind = .perChannel,
        groupSize: Int = 128, keepDType: KeepDType = .source, rules: [QuantizationRule] = [],
        preset: RulesPreset? = nil
    ) {
        self.path = path
        self.useDefaults = useDefaults
        self.granularity = granularity
        self.groupSize = groupSize
        self.keepDType = keepDType
        self.rules = rules
        self.preset = preset
    }
}

/// A granularity as a config names it; the group size is a separate setting.
public enum GranularityKind: String, Sendable, Hashable, CaseIterable {
    case perTensor = "per-tensor"
    case perChannel = "per-channel"
    case perGroup = "per-group"

    /// The kernels' granularity, with `groupSize` for per group.
    public func granularity(groupSize: Int) -> Granularity {
        switch self {
        case .perTensor: .perTensor
        case .perChannel: .perChannel
        case .perGroup: .perGroup(size: groupSize)
        }
    }
}

/// What a rule does with the tensors it matches.
public enum RuleAction: String, Sendable, Hashable, CaseIterable {
    case quantize
    case keep
}

/// Where a rule came from, so that every decision can name it.
public enum RuleOrigin: Sendable, Hashable {
    /// A rule in a config file, at the line where its mapping starts.
    case file(path: String, line: Int)
    /// A `--skip PATTERN` option.
    case skipOption
}

/// One user rule: patterns and conditions that select tensors, and what to do with them.
public struct QuantizationRule: Sendable, Hashable {
    /// The tensor matches when any pattern matches its whole name.
    public var patterns: [NamePattern]
    /// Block indices the tensor must be in; negative ones count back from the last block.
    public var layers: [Int]?
    /// The least number of elements the tensor must have.
    public var minElements: Int?
    /// The stored dtypes the tensor must have.
    public var dtypes: [DType]?
    public var action: RuleAction
    public var granularity: GranularityKind?
    public var groupSize: Int?
    public var keepDType: KeepDType?
    /// Quantized tensors below this SNR are retried per group, then kept.
    public var minimumSNRDecibels: Float?
    public var origin: RuleOrigin

    public init(
        patterns: [NamePattern], layers: [Int]? = nil, minElements: Int? = nil, dtypes: [DType]? = nil,
        action: RuleAction = .quantize, granularity: GranularityKind? = nil, groupSize: Int? = nil,
        keepDType: KeepDType? = nil, minimumSNRDecibels: Float? = nil, origin: RuleOrigin
    ) {
        self.patterns = patterns
        self.layers = layers
        self.minElements = minElements
        self.dtypes = dtypes
        self.action = action
        self.granularity = granularity
        self.groupSize = groupSize
        self.keepDType = keepDType
        self.minimumSNRDecibels = minimumSNRDecibels
        self.origin = origin
    }

    /// How warnings name the rule: `rules.yaml:7 "*.o_proj.weight"`,
    /// `rules.yaml:9 ["*.q_proj.weight", "*.k_proj.weight"]` or `--skip "lm_head"`.
    public var label: String {
        label(showing: patterns.count == 1 ? quoted(patterns[0]) : "[" + patterns.map(quoted).joined(separator: ", ") + "]")
    }

    /// How a decision names the rule: its place and the pattern that matched `name`
    /// (for a list, only that one): `rules.yaml:9 "*.k_proj.weight"`.
    public func label(matching name: String) -> String {
        guard patterns.count > 1, let pattern = patterns.first(where: { $0.matches(name) }) else { return label }
        return label(showing: quoted(pattern))
    }

    private func label(showing patterns: String) -> String {
        switch origin {
        case .file(let path, let line): "\(path):\(line) \(patterns)"
        case .skipOption: "--skip \(patterns)"
        }
    }

    /// Patterns are shown as written, between double quotes, so a regex reads as in the file.
    private func quoted(_ pattern: NamePattern) -> String { "\"\(pattern.text)\"" }
}
