import SwiftQuantCore

/// One decision per tensor: the engine both `swiftquant plan` and `swiftquant convert` run,
/// so the two can never disagree.
///
/// ## How a tensor is decided
///
/// 1. **User rules, in order; the first that matches decides.** `--skip` rules come first,
///    then the config's rules. A rule matches when one of its patterns matches the whole
///    name (see ``NamePattern``) and every condition holds (`layers`, `min_elements`, `dtypes`).
/// 2. **Otherwise the built-in defaults decide:** keep names containing `lm_head`, `embed`
///    or `embd` and GGUF's `output.weight` (the *default skips*); quantize every other float
///    tensor with two or more dimensions at the config's granularity.
///
/// Two protections hold whatever the rules say, because the result would not be a valid
/// checkpoint: tensors with fewer than 2 dimensions, empty tensors and tensors that are not
/// float (or not decodable, such as `F8_E4M3` or GGUF `Q4_K`) are always kept; a quantize
/// rule that matches one decides its keep dtype and is named in the reason.
///
/// ## Rules are additive
///
/// Adding a rule never removes a default skip. A quantize rule whose matching pattern has a
/// wildcard (`"*"`, `"*.weight"`, any `re:`) does not quantize `lm_head` or the embeddings:
/// they stay kept and the reason names the rule that did not apply. To quantize them, either
/// name the tensor exactly in a rule (`match: "lm_head.weight"`) or turn the default skips
/// off (`defaults: false` or `--no-default-skips`). Keep rules always apply.
///
/// ## GGUF output and presets
///
/// For ``PlanTarget/gguf(architecture:)`` the tensors llama.cpp never quantizes
/// (``LlamaQuantizeRules``) are kept whatever the rules say, and the reason names the rule it
/// overrides: llama.cpp's CPU backend cannot run some of them as Q8_0. The preset
/// ``RulesPreset/llamaQuantize`` replaces the default skips by llama-quantize's own choices.
public struct QuantizationPlan: Sendable {
    /// The config the plan was made from, overrides applied.
    public let config: RulesConfig
    /// The output the plan was made for.
    public let target: PlanTarget
    /// One decision per tensor, in the source's order.
    public let decisions: [TensorDecision]
    /// Rules that decided no tensor: users hit this silently in other tools, so `plan` and
    /// `convert` warn about each.
    public let unusedRules: [UnusedRule]
    /// The largest block index among the tensor names, which `layers: [-1]` refers to.
    public let lastBlockIndex: Int?
    /// Decision positions by tensor name, so the converter's per-tensor lookups stay O(1).
    private let positions: [ByteExactName: Int]

    /// Decides every tensor in `tensors` under `config`, for output to `target`.
    public init(tensors: [TensorInfo], config: RulesConfig = RulesConfig(), target: PlanTarget = .anyFormat) {
        self.config = config
        self.target = target
        let lastBlock = tensors.compactMap { blockIndex(in: $0.name) }.max()
        lastBlockIndex = lastBlock
        var matchCounts = [Int](repeating: 0, count: config.rules.count)
        var decideCounts = [Int](repeating: 0, count: config.rules.count)
        var decisions: [TensorDecision] = []
        decisions.reserveCapacity(tensors.count)
        for tensor in tensors {
            var decidingRule: Int?
            for (index, rule) in config.rules.enumerated() where rule.matches(tensor, lastBlockIndex: lastBlock) {
                matchCounts[index] += 1
                if decidingRule == nil {
                    decidingRule = index
                    decideCounts[index] += 1
                }
            }
            decisions.append(Self.decide(tensor, rule: decidingRule.map { config.rules[$0] }, config: config, target: target))
        }
        self.decisions = decisions
        positions = Dictionary(decisions.enumerated().map { (ByteExactName($1.tensor.name), $0) }, uniquingKeysWith: { first, _ in first })
        unusedRules = config.rules.indices.filter { decideCounts[$0] == 0 }.map { index in
            let rule = config.rules[index]
            let nameMatches = tensors.count { tensor in rule.patterns.contains { $0.matches(tensor.name) } }
            return UnusedRule(
                rule: rule, shadowedMatches: matchCounts[index], nameMatches: nameMatches,
                suggestion: nameMatches == 0 ? suggestion(for: rule, tensors: tensors) : nil)
        }
    }

    /// Applies `overrides` to `config`, then decides every tensor.
    public init(
        tensors: [TensorInfo], config: RulesConfig = RulesConfig(), overrides: RuleOverrides, target: PlanTarget = .anyFormat
    ) throws(RulesConfigError) {
        self.init(tensors: tensors, config: try config.applying(overrides), target: target)
    }

    /// The decision for the tensor named `name`.
    public func decision(for name: String) -> TensorDecision? {
        positions[ByteExactName(name)].map { decisions[$0] }
    }

    // MARK: Deciding one tensor

    static func decide(
        _ tensor: TensorInfo, rule: QuantizationRule?, config: RulesConfig, target: PlanTarget = .anyFormat
    ) -> TensorDecision {
        let keepDType = canConvert(tensor) ? (rule?.keepDType ?? config.keepDType) : .source
        func keep(_ reason: String) -> TensorDecision {
            TensorDecision(tensor: tensor, action: .keep(keepDType), reason: reason)
        }
        if let rule, rule.action == .keep { return keep(rule.label(matching: tensor.name)) }

        if let protection = protection(for: tensor) {
            return keep(rule.map { "\(protection) (overrides \($0.label(matching: tensor.name)))" } ?? protection)
        }
        // The preset reproduces llama-quantize's choices whatever the output is.
        if target.ggufArchitecture != nil || config.preset == .llamaQuantize,
           let never = LlamaQuantizeRules.neverQuantizedReason(for: tensor, architecture: target.ggufArchitecture ?? nil)
        {
            return keep(rule.map { "\(never) (overrides \($0.label(matching: tensor.name)))" } ?? never)
        }
        if config.useDefaults, config.preset == nil, let skip = defaultSkip(for: tensor) {
            guard let rule else { return keep(skip) }
            if !rule.namesExactly(tensor.name) {
                return keep("\(skip) (overrides \(rule.label(matching: tensor.name)); name the tensor exactly or set defaults: false to quantize it)")
            }
        }

        let groupSize = rule?.groupSize ?? config.groupSize
        let requested = (rule?.granularity ?? config.granularity).granularity(groupSize: groupSize)
        let granularity = effectiveGranularity(for: tensor.shape, requested: requested)
        var notes: [String] = []
        if granularity != requested {
            let columns = matrixView(of: tensor.shape).columns
            notes.append("\(requested) does not divide \(columns) columns → \(granularity)")
        }
        return TensorDecision(
            tensor: tensor, action: .quantize(granularity),
            reason: rule?.label(matching: tensor.name) ?? defaultQuantizeReason(tensor, preset: config.preset),
            minimumSNRDecibels: rule?.minimumSNRDecibels, fallbackGroupSize: groupSize,
            fallbackKeepDType: rule?.keepDType ?? config.keepDType, notes: notes)
    }

    /// What quantizes a tensor no rule decides.
    static func defaultQuantizeReason(_ tensor: TensorInfo, preset: RulesPreset?) -> String {
        switch preset {
        case .llamaQuantize?: "preset llama-quantize: llama-quantize quantizes it"
        case nil: "default: \(tensor.shape.count)-D float"
        }
    }

    /// Why a tensor can never be quantized, or `nil` when it can.
    static func protection(for tensor: TensorInfo) -> String? {
        if !tensor.dtype.isDecodableFloat {
            return tensor.dtype.isFloatingPoint
                ? "default: \(tensor.dtype.rawValue) cannot be decoded"
                : "default: not float (\(tensor.dtype.rawValue))"
        }
        switch tensor.shape.count {
        case 0: return "default: scalar"
        case 1: return "default: 1-D"
        default: return tensor.elementCount == 0 ? "default: empty" : nil
        }
    }

    /// The substrings whose tensors the defaults keep in float: Hugging Face names
    /// (`lm_head`, `embed_tokens`, `word_embeddings`) and GGUF names (`token_embd`).
    public static let defaultSkipSubstrings = ["lm_head", "embed", "embd"]
    /// Whole names the defaults keep: GGUF's output head.
    public static let defaultSkipNames = ["output.weight"]

    /// The default skip that keeps `tensor`, or `nil`.
    static func defaultSkip(for tensor: TensorInfo) -> String? {
        if let part = defaultSkipSubstrings.first(where: { tensor.name.contains($0) }) {
            return "default: name contains \(jsonQuoted(part))"
        }
        if defaultSkipNames.contains(tensor.name) {
            return "default: output head \(jsonQuoted(tensor.name))"
        }
        return nil
    }

    /// Whether a kept tensor can be stored as another float type.
    static func canConvert(_ tensor: TensorInfo) -> Bool {
        tensor.dtype.isDecodableFloat && tensor.dtype.isFloatingPoint
    }
}

/// A rule that decided no tensor.
public struct UnusedRule: Sendable, Hashable, CustomStringConvertible {
    public var rule: QuantizationRule
    /// Tensors the rule matches that earlier rules decided; 0 when it matches nothing.
    public var shadowedMatches: Int
    /// Tensors whose name a pattern matches, conditions aside.
    public var nameMatches: Int
    /// A pattern that would have matched, when the likely mistake is a missing wildcard.
    public var suggestion: String?

    /// The warning, on one line.
    public var description: String {
        if shadowedMatches > 0 {
            return "\(rule.label) decides no tensor: earlier rules decide all \(shadowedMatches) tensors it matches"
        }
        if nameMatches > 0 {
            return "\(rule.label) matched no tensor: its pattern matches \(nameMatches) names, but its conditions (layers, min_elements, dtypes) exclude them all"
        }
        var message = "\(rule.label) matched no tensor"
        if let suggestion { message += " (patterns match the whole name; \(suggestion))" }
        return message
    }
}

extension QuantizationRule {
    /// Whether the tensor matches a pattern and every condition.
    public func matches(_ tensor: TensorInfo, lastBlockIndex: Int?) -> Bool {
        guard patterns.contains(where: { $0.matches(tensor.name) }) else { return false }
        if let minElements, tensor.elementCount < minElements { return false }
        if let dtypes, !dtypes.contains(tensor.dtype) { return false }
        if let layers {
            guard let block = blockIndex(in: tensor.name), let lastBlockIndex else { return false }
            let wanted = layers.map { $0 < 0 ? lastBlockIndex + 1 + $0 : $0 }
            if !wanted.contains(block) { return false }
        }
        return true
    }

    /// Whether a literal pattern (no wildcard) is exactly `name`: only then may a quantize
    /// rule override a default skip.
    func namesExactly(_ name: String) -> Bool {
        patterns.contains { $0.isLiteral && $0.text == name }
    }
}

/// For a rule that matched nothing: the wildcard version of a glob that would match.
private func suggestion(for rule: QuantizationRule, tensors: [TensorInfo]) -> String? {
    for pattern in rule.patterns where !pattern.text.hasPrefix("re:") {
        for candidate in [pattern.text + "*", "*" + pattern.text, "*" + pattern.text + "*"] {
            guard let widened = try? NamePattern(candidate),
                  let example = tensors.first(where: { widened.matches($0.name) })
            else { continue }
            return "\(jsonQuoted(candidate)) would match \(example.name)"
        }
    }
    return nil
}
