import Foundation
import Testing
import SwiftQuant

/// `swiftquant plan` end to end: the built binary with configs, shortcuts and bad input.
@Suite("swiftquant plan")
struct PlanCommandTests {
    private var sample: String { CLIRunner.repositoryRoot.appendingPathComponent("Samples/tiny-llama.safetensors").path }
    private var miniLM: String { get throws { try TestModels.miniLMSafeTensors } }

    private func writeConfig(_ text: String, name: String = "rules.yaml") throws -> String {
        let path = try CLIRunner.makeTemporaryFolder() + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func tensors(_ result: CLIRunner.Result) throws -> (tensors: [[String: Any]], unused: [String]) {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["tensors", "unused_rules"])
        return (try #require(object["tensors"] as? [[String: Any]]), try #require(object["unused_rules"] as? [String]))
    }

    private func entry(_ name: String, in tensors: [[String: Any]]) throws -> [String: Any] {
        try #require(tensors.first { $0["name"] as? String == name }, "no entry for \(name)")
    }

    // MARK: Output

    @Test func tablePrintsOneLinePerTensorWithWhatDecidedIt() throws {
        let result = try CLIRunner.run(["plan", sample])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 1 + 21 + 1, "header, 21 tensors, summary")
        let rows = lines.dropFirst().dropLast()
        #expect(rows.allSatisfy { $0.hasPrefix("quantize ") || $0.hasPrefix("keep ") })
        let head = try #require(rows.first { $0.contains(" lm_head.weight ") })
        #expect(head.hasPrefix("keep "))
        #expect(head.hasSuffix(#"default: name contains "lm_head""#))
        let norm = try #require(rows.first { $0.contains(" model.norm.weight ") })
        #expect(norm.hasSuffix("default: 1-D"))
        let query = try #require(rows.first { $0.contains(" model.layers.1.self_attn.q_proj.weight ") })
        #expect(query.hasPrefix("quantize per-channel "))
        #expect(lines.last?.hasPrefix("21 tensors: 14 quantized, 7 kept") == true)
    }

    @Test func jsonListsEveryTensorWithActionGranularityAndRule() throws {
        let config = try writeConfig(
            """
            granularity: per-group
            group_size: 64
            rules:
              - match: "*.o_proj.weight"
                granularity: per-tensor
              - match: "vision_tower.*"
                action: keep
            """)
        let result = try CLIRunner.run(["plan", sample, "--config", config, "--json", "--skip", "*.k_proj.weight"])
        #expect(result.status == 0, "\(result)")
        let (tensors, unused) = try tensors(result)
        #expect(tensors.count == 21)
        for tensor in tensors {
            #expect(["quantize", "keep"].contains(tensor["action"] as? String))
            #expect(tensor["rule"] is String)
            #expect(tensor.keys.contains("granularity") && tensor.keys.contains("group_size"))
        }
        let oProj = try entry("model.layers.0.self_attn.o_proj.weight", in: tensors)
        #expect(oProj["action"] as? String == "quantize")
        #expect(oProj["granularity"] as? String == "per-tensor")
        #expect(oProj["group_size"] is NSNull)
        #expect(oProj["rule"] as? String == "\(config):4 \"*.o_proj.weight\"")
        let gate = try entry("model.layers.1.mlp.gate_proj.weight", in: tensors)
        #expect(gate["granularity"] as? String == "per-group")
        #expect(gate["group_size"] as? Int == 64)
        let kProj = try entry("model.layers.0.self_attn.k_proj.weight", in: tensors)
        #expect(kProj["action"] as? String == "keep")
        #expect(kProj["keep_dtype"] as? String == "source")
        #expect(kProj["rule"] as? String == #"--skip "*.k_proj.weight""#)
        // The rule that matches nothing is listed, and warned about on stderr.
        #expect(unused == ["\(config):6 \"vision_tower.*\""])
        #expect(result.stderrLines == ["swiftquant: warning: \(config):6 \"vision_tower.*\" matched no tensor"])
    }

    @Test func aSkipThatMatchesNothingIsWarnedAboutWithAHint() throws {
        let result = try CLIRunner.run(["plan", sample, "--skip", "lm_head", "--json"])
        #expect(result.status == 0, "\(result)")
        #expect(try tensors(result).unused == [#"--skip "lm_head""#])
        #expect(result.stderrLines.count == 1)
        #expect(result.stderrLines.first?.contains(#""lm_head*" would match lm_head.weight"#) == true)
    }

    @Test func shortcutsAddToTheConfig() throws {
        let config = try writeConfig("rules:\n  - match: \"*.q_proj.weight\"\n    granularity: per-tensor\n")
        let result = try CLIRunner.run([
            "plan", sample, "--json", "--config", config, "--granularity", "per-group", "--group-size", "32",
            "--no-default-skips",
        ])
        #expect(result.status == 0, "\(result)")
        let (tensors, _) = try tensors(result)
        #expect(try entry("lm_head.weight", in: tensors)["action"] as? String == "quantize")
        #expect(try entry("lm_head.weight", in: tensors)["group_size"] as? Int == 32)
        #expect(try entry("model.layers.0.self_attn.q_proj.weight", in: tensors)["granularity"] as? String == "per-tensor")
        #expect(try entry("model.norm.weight", in: tensors)["action"] as? String == "keep")
    }

    @Test func measureReportsErrorsAndAppliesMinimumSNR() throws {
        let config = try writeConfig("rules:\n  - match: \"*.o_proj.weight\"\n    min_snr_db: 200\n    keep_dtype: f16\n")
        let result = try CLIRunner.run(["plan", sample, "--json", "--measure", "--config", config])
        #expect(result.status == 0, "\(result)")
        let (tensors, _) = try tensors(result)
        for tensor in tensors {
            if tensor["action"] as? String == "quantize" {
                let snr = try #require(tensor["snr_db"] as? Double)
                let maxError = try #require(tensor["max_abs_error"] as? Double)
                #expect(snr > 20 && snr < 80, "\(tensor)")
                #expect(maxError > 0 && maxError < 0.1, "\(tensor)")
            } else {
                #expect(tensor["snr_db"] is NSNull)
            }
        }
        // 200 dB is out of reach: per channel, then per group, then kept as float16.
        let oProj = try entry("model.layers.1.self_attn.o_proj.weight", in: tensors)
        #expect(oProj["action"] as? String == "keep")
        #expect(oProj["keep_dtype"] as? String == "f16")
        let notes = try #require(oProj["notes"] as? [String])
        #expect(notes.contains { $0.hasPrefix("per-channel SNR ") && $0.contains("per-group(128)") && $0.hasSuffix("→ keep f16") })

        let table = try CLIRunner.run(["plan", sample, "--measure"])
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.split(separator: "\n").first?.contains("SNR dB") == true)
    }

    @Test
    func miniLMPlan() throws {
        let result = try CLIRunner.run(["plan", miniLM, "--json", "--config", CLIRunner.repositoryRoot.path + "/Samples/rules-bert.yaml"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "the BERT sample matches MiniLM's names")
        let (tensors, unused) = try tensors(result)
        #expect(tensors.count == 104)
        #expect(unused.isEmpty)
        #expect(tensors.filter { $0["action"] as? String == "quantize" }.count == 36)
        #expect(try entry("pooler.dense.weight", in: tensors)["action"] as? String == "keep")
    }

    // MARK: Errors: one line on stderr, status 1

    private func expectOneLineError(_ arguments: [String], startsWith prefix: String) throws {
        let result = try CLIRunner.run(arguments)
        #expect(result.status == 1, "\(result)")
        #expect(!result.signalled)
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderrLines.first?.hasPrefix("swiftquant: error: " + prefix) == true, "\(result)")
    }

    @Test func badConfigsFailWithTheirFileAndLine() throws {
        let unknownKey = try writeConfig("rules:\n  - match: \"*\"\n    granularty: per-group\n")
        try expectOneLineError(["plan", sample, "--config", unknownKey], startsWith: "\(unknownKey):3: unknown key 'granularty'")
        let badRegex = try writeConfig("rules:\n  - match: 're:model\\.(a'\n")
        try expectOneLineError(["plan", sample, "--config", badRegex], startsWith: "\(badRegex):2: match pattern")
        let malformed = try writeConfig("{\"rules\": [\n  {\"match\": \"*\",}\n", name: "rules.json")
        try expectOneLineError(["plan", sample, "--config", malformed], startsWith: "\(malformed):")
        let empty = try writeConfig("")
        try expectOneLineError(["plan", sample, "--config", empty], startsWith: "\(empty): the rules config is empty")
        try expectOneLineError(["plan", sample, "--config", "/nonexistent/rules.yaml"], startsWith: "/nonexistent/rules.yaml: cannot read")
    }

    @Test func badOptionsAndInputsFailOnOneLine() throws {
        try expectOneLineError(["plan", sample, "--granularity", "per-row"], startsWith: #"--granularity "per-row""#)
        try expectOneLineError(["plan", sample, "--group-size", "0"], startsWith: #"--group-size "0""#)
        try expectOneLineError(["plan", sample, "--skip", "re:(a"], startsWith: #"--skip "re:(a": invalid regular expression"#)
        try expectOneLineError(["plan", "/nonexistent/model.safetensors"], startsWith: "/nonexistent/model.safetensors")
        try expectOneLineError(["plan"], startsWith: "")
    }

    @Test func measureNamesATensorThatCannotBeQuantized() throws {
        // One F32 [2, 2] tensor holding a NaN.
        let header = #"{"w.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init) + Array(header.utf8)
        for value: Float in [1, .nan, 3, 4] { bytes += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
        let path = try CLIRunner.makeTemporaryFolder() + "/nan.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try CLIRunner.run(["plan", path, "--measure"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderrLines.count == 1)
        #expect(result.stderrLines.first?.contains("w.weight") == true, "\(result)")
        #expect(result.stdout.contains("error "), "the plan is still printed, with the failing tensor marked")
    }
}
