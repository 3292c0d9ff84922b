import SwiftQuantCore
/// The command-line shortcuts `plan` and `convert` share. They add to a config; they never
/// replace its rules.
public struct RuleOverrides: Sendable, Hashable {
    /// `--skip PATTERN`: each becomes a keep rule placed *before* the config's rules, so a
    /// skip always wins over any rule in the file. Patterns match like `match`.
    public var skipPatterns: [String]
    /// `--no-default-skips`: like `defaults: false`.
    public var disableDefaultSkips: Bool
    /// `--granularity`: replaces the config's top-level granularity (rules that set their
    /// own keep it).
    public var granularity: String?
    /// `--group-size`: replaces the config's top-level group size.
    public var groupSize: Int?
    /// `--preset NAME`: replaces the built-in defaults (see ``RulesPreset``).
    public var preset: String?

    public init(
        skipPatterns: [String] = [], disableDefaultSkips: Bool = false, granularity: String? = nil,
        groupSize: Int? = nil, preset: String? = nil
    ) {
        self.skipPatterns = skipPatterns
        self.disableDefaultSkips = disableDefaultSkips
        self.granularity = granularity
        self.groupSize = groupSize
        self.preset = preset
    }
}

extension RulesConfig {
    /// This config with the command-line shortcuts added.
    public func applying(_ overrides: RuleOverrides) throws(RulesConfigError) -> RulesConfig {
        var config = self
        if overrides.disableDefaultSkips { config.useDefaults = false }
        if let name = overrides.granularity {
            guard let kind = GranularityKind(rawValue: name.lowercased()) else {
                throw .invalidOption(option: "--granularity", value: name, expected: "per-tensor, per-channel or per-group")
            }
            config.granularity = kind
        }
        if let size = overrides.groupSize {
            guard size > 0 else {
                throw .invalidOption(option: "--group-size", value: String(size), expected: "a positive integer, such as 128")
            }
            config.groupSize = size
        }
        if let name = overrides.preset {
            guard let preset = RulesPreset(rawValue: name.lowercased()) else {
                throw .invalidOption(
                    option: "--preset", value: name,
                    expected: RulesPreset.allCases.map(\.rawValue).joined(separator: ", "))
            }
            config.preset = preset
        }
        var skips: [QuantizationRule] = []
        for text in overrides.skipPatterns {
            do throws(NamePatternError) {
                skips.append(QuantizationRule(patterns: [try NamePattern(text)], action: .keep, origin: .skipOption))
            } catch {
                throw .invalidSkipPattern(pattern: text, problem: error)
            }
        }
        config.rules = skips + config.rules
        return config
    }
}
