import Foundation
import Testing
import SwiftQuant

/// convert applies the same rules engine as plan: keep rules, keep dtypes, min_snr_db fallbacks.
@Suite struct ConvertRulesTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    func write(_ text: String, _ name: String) throws -> String {
        let path = folder + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A threshold every tensor meets goes through resolve(_:weights:) instead of the fused
    /// encoded path: the stored tensors and metrics must be the same.
    @Test func aMetThresholdStoresWhatNoThresholdStores() throws {
        let input = try SafeTensorsFixture.llama().write(to: folder + "/model.safetensors")
        let rules = try write("rules:\n  - match: \"*\"\n    min_snr_db: 1\n", "low.yaml")
        #expect(try CLIRunner.run(["convert", input, "-o", folder + "/plain.swq", "--quiet"]).status == 0)
        let checked = try CLIRunner.run(["convert", input, "-o", folder + "/checked.swq", "--quiet", "--config", rules])
        #expect(checked.status == 0, "\(checked)")
        let plain = try CheckpointFile(path: folder + "/plain.swq"), withThreshold = try CheckpointFile(path: folder + "/checked.swq")
        #expect(plain.entries.map(\.name) == withThreshold.entries.map(\.name))
        for (a, b) in zip(plain.entries, withThreshold.entries) {
            #expect(a.quantization == b.quantization && a.metrics == b.metrics, "\(a.name)")
            #expect(bytes(try plain.data(for: a.name)) == bytes(try withThreshold.data(for: b.name)), "\(a.name)")
            if a.quantization != nil {
                #expect(try plain.quantizedWeight(for: a.name)?.scales == withThreshold.quantizedWeight(for: b.name)?.scales)
            }
        }
    }

    @Test func anUnreachableThresholdKeepsTheTensorInItsKeepDType() throws {
        let fixture = SafeTensorsFixture.llama()
        let input = try fixture.write(to: folder + "/model.safetensors")
        let rules = try write(
            "rules:\n  - match: \"*.o_proj.weight\"\n    min_snr_db: 200\n    keep_dtype: f16\n", "high.yaml")
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/out.swq", "--config", rules, "--json"])
        #expect(result.status == 0, "\(result)")
        let checkpoint = try CheckpointFile(path: folder + "/out.swq")
        for entry in checkpoint.entries where entry.name.hasSuffix(".o_proj.weight") {
            #expect(entry.quantization == nil && entry.dtype == .f16, "\(entry.name)")
            let source = try #require(fixture.tensors.first { $0.name == entry.name })
            let original = source.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let stored = try checkpoint.floats(for: entry.name)
            #expect(zip(original, stored).allSatisfy { Float(Float16($0.0)) == $0.1 })
        }
        let summary = try parseJSONObject(result.stdout)
        let notes = (summary["tensors"] as? [[String: Any]] ?? []).compactMap { $0["note"] as? String }
        #expect(notes.contains { $0.contains("keep") }, "\(notes)")
        #expect(checkpoint.metadata["swiftquant.rules"].map { "\($0)".contains("high.yaml") } == true)
    }

    @Test func keepRulesAndKeepDTypesApply() throws {
        let input = try SafeTensorsFixture.llama().write(to: folder + "/model.safetensors")
        let rules = try write(
            "keep_dtype: bf16\nrules:\n  - match: \"*\"\n    layers: [0]\n    action: keep\n", "keep.yaml")
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/out.swq", "--config", rules, "--quiet"])
        #expect(result.status == 0, "\(result)")
        let checkpoint = try CheckpointFile(path: folder + "/out.swq")
        for entry in checkpoint.entries {
            if entry.name.hasPrefix("model.layers.0.") || entry.name.contains("embed") || entry.name.contains("lm_head") {
                #expect(entry.quantization == nil, "\(entry.name)")
                if entry.shape.count >= 2 { #expect(entry.dtype == .bf16, "\(entry.name)") }
            } else if entry.shape.count >= 2 {
                #expect(entry.quantization == .perChannel, "\(entry.name)")
            }
        }
    }
}
