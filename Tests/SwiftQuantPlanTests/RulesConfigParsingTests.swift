import Foundation
import Testing
import SwiftQuant

@Suite("Rules config parsing")
struct RulesConfigParsingTests {
    @Test func emptyMappingGivesTheDefaults() throws {
        let parsed = try config("{}")
        #expect(parsed.useDefaults)
        #expect(parsed.granularity == .perChannel)
        #expect(parsed.groupSize == 128)
        #expect(parsed.keepDType == .source)
        #expect(parsed.rules.isEmpty)
        #expect(parsed.path == "rules.yaml")
    }

    @Test func theIssueExampleParses() throws {
        let parsed = try config(
            """
            granularity: per-channel
            rules:
              - match: "*"
                layers: [0, -1]          # keep the first and last blocks in float
                action: keep
                keep_dtype: f16
              - match: 're:model\\.layers\\.\\d+\\.mlp\\.(gate|up)_proj\\.weight'
                granularity: per-group
                group_size: 64
              - match: "*.o_proj.weight"
                min_snr_db: 38
            """)
        #expect(parsed.rules.count == 3)
        let keep = parsed.rules[0]
        #expect(keep.layers == [0, -1])
        #expect(keep.action == .keep)
        #expect(keep.keepDType == .f16)
        #expect(keep.origin == .file(path: "rules.yaml", line: 3))
        #expect(keep.label == #"rules.yaml:3 "*""#)
        #expect(parsed.rules[1].granularity == .perGroup)
        #expect(parsed.rules[1].groupSize == 64)
        #expect(parsed.rules[1].patterns.map(\.text) == [#"re:model\.layers\.\d+\.mlp\.(gate|up)_proj\.weight"#])
        #expect(parsed.rules[2].minimumSNRDecibels == 38)
        #expect(parsed.rules[2].action == .quantize)
        #expect(parsed.rules[2].label == #"rules.yaml:10 "*.o_proj.weight""#)
    }

    @Test func everyKeyParses() throws {
        let parsed = try config(
            """
            defaults: false
            granularity: per-group
            group_size: 32
            keep_dtype: bf16
            rules:
              - match: ["*.q_proj.weight", "*.k_proj.weight"]
                layers: 3
                min_elements: 1000
                dtypes: [F16, bf16]
                action: quantize
                granularity: per-tensor
                group_size: 16
                keep_dtype: f32
                min_snr_db: 30.5
            """)
        #expect(!parsed.useDefaults)
        #expect(parsed.granularity == .perGroup)
        #expect(parsed.groupSize == 32)
        #expect(parsed.keepDType == .bf16)
        let rule = try #require(parsed.rules.first)
        #expect(rule.patterns.map(\.text) == ["*.q_proj.weight", "*.k_proj.weight"])
        #expect(rule.layers == [3])
        #expect(rule.minElements == 1000)
        #expect(rule.dtypes == [.f16, .bf16])
        #expect(rule.granularity == .perTensor)
        #expect(rule.groupSize == 16)
        #expect(rule.keepDType == .f32)
        #expect(rule.minimumSNRDecibels == 30.5)
        #expect(rule.label == #"rules.yaml:6 ["*.q_proj.weight", "*.k_proj.weight"]"#)
    }

    @Test func jsonConfigsParseWithLineNumbers() throws {
        let parsed = try config(
            """
            {
              "granularity": "per-group",
              "group_size": 64,
              "rules": [
                {"match": "lm_head.weight", "action": "quantize"},
                {
                  "match": ["*.o_proj.weight"],
                  "min_snr_db": 40
                }
              ]
            }
            """)
        #expect(parsed.granularity == .perGroup)
        #expect(parsed.groupSize == 64)
        #expect(parsed.rules.map(\.origin) == [.file(path: "rules.yaml", line: 5), .file(path: "rules.yaml", line: 6)])
        #expect(configError(#"{"rules": [{"match": "*", "group_size": 0}]}"#)?.description.hasPrefix("rules.yaml:1: 'group_size' is 0") == true)
    }

    // MARK: Errors: one line, naming the file and the line, and what was expected

    static let errorCases: [(text: String, line: Int, mentions: [String])] = [
        ("granularty: per-group\n", 1, ["unknown key 'granularty'", "did you mean 'granularity'"]),
        ("rules:\n  - match: \"*\"\n    acton: keep\n", 3, ["unknown key 'acton' in a rule", "action"]),
        ("rules:\n  - match: 're:model\\.(a|b'\n", 2, ["re:model", "invalid regular expression"]),
        ("rules:\n  - match: \"re:\"\n", 2, ["'re:' needs a regular expression"]),
        ("rules:\n  - match: \"\"\n", 2, ["empty pattern"]),
        ("rules:\n  - match: []\n", 2, ["'match' is a list", "a pattern or a list of patterns"]),
        ("group_size: 0\n", 1, ["'group_size' is 0", "positive integer"]),
        ("group_size: -4\n", 1, ["'group_size' is -4"]),
        ("group_size: 1.5\n", 1, ["'group_size' is 1.5"]),
        ("group_size: \"128\"\n", 1, [#"'group_size' is "128""#]),
        ("rules:\n  - match: x\n\n    group_size: 0\n", 4, ["'group_size' is 0"]),
        ("granularity: per-row\n", 1, [#"'granularity' is "per-row""#, "per-tensor, per-channel or per-group"]),
        ("rules:\n  - match: x\n    granularity: per-row\n", 3, ["per-row"]),
        ("keep_dtype: f8\n", 1, ["'keep_dtype' is \"f8\"", "source, f16, bf16 or f32"]),
        ("defaults: maybe\n", 1, ["'defaults' is \"maybe\"", "true or false"]),
        ("rules:\n  - match: x\n    min_elements: -1\n", 3, ["'min_elements' is -1", "0 or more"]),
        ("rules:\n  - match: x\n    min_elements: lots\n", 3, ["'min_elements' is \"lots\""]),
        ("rules:\n  - match: x\n    layers: [0, first]\n", 3, [#"'layers' is "first""#, "block indices"]),
        ("rules:\n  - match: x\n    layers: {a: 1}\n", 3, ["'layers' is a mapping"]),
        ("rules:\n  - match: x\n    layers: []\n", 3, ["'layers' is a list"]),
        ("rules:\n  - match: x\n    dtypes: [F16, F17]\n", 3, [#"'dtypes' is "F17""#, "BF16"]),
        ("rules:\n  - match: x\n    action: delete\n", 3, [#"'action' is "delete""#, "quantize or keep"]),
        ("rules:\n  - match: x\n    min_snr_db: high\n", 3, [#"'min_snr_db' is "high""#, "decibels"]),
        ("rules:\n  - match: x\n    min_snr_db: .nan\n", 3, ["'min_snr_db'"]),
        ("rules:\n  - match: x\n    action: keep\n    min_snr_db: 30\n", 4, ["'min_snr_db' has no effect", "action: keep"]),
        ("rules:\n  - match: x\n    action: keep\n    granularity: per-tensor\n", 4, ["'granularity' has no effect"]),
        ("rules:\n  - action: keep\n", 2, ["no 'match'"]),
        ("rules:\n  - \"*\"\n", 2, ["a rule must be a mapping", #""*""#]),
        ("rules:\n  match: x\n", 2, ["'rules' is a mapping", "list of rules"]),
        ("rules: 5\n", 1, ["'rules' is 5"]),
        ("granularity: per-channel\ngranularity: per-group\n", 2, ["'granularity' appears twice"]),
        ("- match: x\n- match: y\n", 1, ["the rules config must be a mapping", "not a list"]),
        ("just some words\n", 1, ["the rules config must be a mapping", #""just some words""#]),
        ("rules:\n  - match: [\"*\"\n", 3, ["not valid YAML or JSON"]),
        ("rules:\n  - match: x\n   action: keep\n", 3, ["not valid YAML or JSON"]),
        ("granularity: \"per-channel\n", 2, ["not valid YAML or JSON"]),
        ("{\"rules\": [}\n", 1, ["not valid YAML or JSON"]),
        ("a: b\n---\nc: d\n", 2, ["not valid YAML or JSON"]),
    ]

    @Test(arguments: errorCases)
    func configErrorsAreOneLineNamingFileAndLine(_ errorCase: (text: String, line: Int, mentions: [String])) throws {
        let error = try #require(configError(errorCase.text), "expected an error for \(errorCase.text)")
        let message = error.description
        #expect(!message.contains("\n"), "\(message)")
        #expect(message.hasPrefix("rules.yaml:\(errorCase.line): "), "\(message)")
        for phrase in errorCase.mentions {
            #expect(message.contains(phrase), "\(message) should mention \(phrase)")
        }
    }

    @Test(arguments: ["", "\n", "# only a comment\n", "---\n", "~\n"])
    func emptyDocumentsSayWhatIsExpected(text: String) throws {
        let error = try #require(configError(text))
        #expect(error == .emptyDocument(path: "rules.yaml"))
        #expect(error.description.hasPrefix("rules.yaml: the rules config is empty"))
    }

    @Test func loadReadsAFileAndNamesItInReasons() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plan-tests-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("my rules.yml").path
        try "rules:\n  - match: \"*.o_proj.weight\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let loaded = try RulesConfig.load(path: path)
        #expect(loaded.rules.first?.label == "\(path):2 \"*.o_proj.weight\"")

        let missing = directory.appendingPathComponent("missing.yaml").path
        #expect(throws: RulesConfigError.cannotRead(path: missing, reason: "no such file")) {
            try RulesConfig.load(path: missing)
        }
        #expect(throws: RulesConfigError.cannotRead(path: directory.path, reason: "it is a directory")) {
            try RulesConfig.load(path: directory.path)
        }
        let binary = directory.appendingPathComponent("binary.yaml").path
        try Data([0x72, 0x75, 0xFF, 0xFE, 0x00]).write(to: URL(fileURLWithPath: binary))
        #expect(throws: RulesConfigError.cannotRead(path: binary, reason: "not UTF-8 text")) {
            try RulesConfig.load(path: binary)
        }
    }

    @Test func overridesValidateLikeTheConfig() throws {
        let base = RulesConfig()
        #expect(throws: RulesConfigError.invalidOption(option: "--granularity", value: "per-row", expected: "per-tensor, per-channel or per-group")) {
            try base.applying(RuleOverrides(granularity: "per-row"))
        }
        #expect(throws: RulesConfigError.self) { try base.applying(RuleOverrides(groupSize: 0)) }
        do {
            _ = try base.applying(RuleOverrides(skipPatterns: ["re:(unclosed"]))
            Issue.record("expected a bad --skip regex to be rejected")
        } catch {
            #expect(error.description.hasPrefix(#"--skip "re:(unclosed": invalid regular expression"#))
            #expect(!error.description.contains("\n"))
        }
        let applied = try base.applying(
            RuleOverrides(skipPatterns: ["a", "b*"], disableDefaultSkips: true, granularity: "per-group", groupSize: 64))
        #expect(!applied.useDefaults)
        #expect(applied.granularity == .perGroup)
        #expect(applied.groupSize == 64)
        #expect(applied.rules.map(\.label) == [#"--skip "a""#, #"--skip "b*""#])
        #expect(applied.rules.allSatisfy { $0.action == .keep })
    }
}
