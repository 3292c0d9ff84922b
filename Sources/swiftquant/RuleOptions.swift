import ArgumentParser
import SwiftQuant
import SwiftQuantBench

/// The rule options `plan` and `convert` share, so both decide every tensor the same way.
struct RuleOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("A YAML or JSON rules config (examples: Samples/rules-*.yaml).", valueName: "file"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Keep tensors whose whole name matches this glob ('*' spans dots) or 're:' regex. Skips are checked before the config's rules. Repeatable.",
            valueName: "pattern"))
    var skip: [String] = []

    @Flag(name: .long, help: "Quantize lm_head and embeddings too, like 'defaults: false' in a config.")
    var noDefaultSkips = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Granularity for tensors whose rule sets none: per-tensor, per-channel (default) or per-group.",
            valueName: "granularity"))
    var granularity: String?

    @Option(name: .long, help: ArgumentHelp("Group size for per-group when a rule sets none (default 128).", valueName: "n"))
    var groupSize: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Replace the built-in defaults: llama-quantize (llama-quantize's Q8_0 tensor choices: token_embd and output quantized too, what it never quantizes kept as stored).",
            valueName: "name"))
    var preset: String?

    var overrides: RuleOverrides {
        RuleOverrides(
            skipPatterns: skip, disableDefaultSkips: noDefaultSkips, granularity: granularity, groupSize: groupSize,
            preset: preset)
    }

    /// The config file (or the built-in defaults) with the command-line shortcuts applied.
    /// Call it before opening the checkpoint, so a bad config fails fast.
    func makeConfig() throws(RulesConfigError) -> RulesConfig {
        let base = try config.map { (path) throws(RulesConfigError) in try RulesConfig.load(path: path) } ?? RulesConfig()
        return try base.applying(overrides)
    }

    /// Prints one stderr warning per rule that decided no tensor: the silent failure
    /// users hit in other tools, where a skip regex matches nothing.
    func warnAboutUnusedRules(in plan: QuantizationPlan) {
        for unused in plan.unusedRules {
            printToStandardError("swiftquant: warning: \(unused)")
        }
    }
}
