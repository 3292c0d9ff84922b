import Foundation
import Testing
import SwiftQuant

/// Minimal GGUF v3 bytes: one string entry and F32 tensors laid out at 32-byte alignment.
private func ggufBytes(
    version: UInt32 = 3, tensorCount: UInt64? = nil,
    entries: [(key: String, typeAndValue: [UInt8])] = [("general.architecture", stringValue("llama"))],
    tensors: [(name: String, dims: [UInt64], type: UInt32, data: [UInt8])] = [
        ("a", [32, 2], 0, [UInt8](repeating: 0, count: 256)), ("b", [4], 0, [UInt8](repeating: 0, count: 16)),
    ]
) -> [UInt8] {
    var bytes = Array("GGUF".utf8)
    func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    func appendString(_ text: String) { append(UInt64(text.utf8.count)); bytes += text.utf8 }
    append(version)
    append(tensorCount ?? UInt64(tensors.count))
    append(UInt64(entries.count))
    for entry in entries {
        appendString(entry.key)
        bytes += entry.typeAndValue
    }
    var offset: UInt64 = 0
    for tensor in tensors {
        appendString(tensor.name)
        append(UInt32(tensor.dims.count))
        for dim in tensor.dims { append(dim) }
        append(tensor.type)
        append(offset)
        offset += UInt64((tensor.data.count + 31) / 32 * 32)
    }
    bytes += [UInt8](repeating: 0, count: (32 - bytes.count % 32) % 32)
    for tensor in tensors { bytes += tensor.data + [UInt8](repeating: 0, count: (32 - tensor.data.count % 32) % 32) }
    return bytes
}

private func stringValue(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt32(8).littleEndian) { bytes += $0 }
    withUnsafeBytes(of: UInt64(text.utf8.count).littleEndian) { bytes += $0 }
    return bytes + Array(text.utf8)
}

private func u32Value(_ value: UInt32) -> [UInt8] {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt32(4).littleEndian) { bytes += $0 }
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    return bytes
}

@Suite struct GGUFCommandTests {
    /// Crafted files, one per kind of damage; each must end as one stderr line and status 1.
    static let malformed: [(label: String, bytes: [UInt8], mention: String)] = [
        ("bad magic", Array("GGML".utf8) + ggufBytes().dropFirst(4), "instead of 'GGUF'"),
        ("empty", [], "not a GGUF file"),
        ("truncated", Array(ggufBytes().prefix(90)), "truncated"),
        ("data cut short", Array(ggufBytes().dropLast(40)), "past the end"),
        ("big-endian", ggufBytes(version: UInt32(3).byteSwapped), "big-endian"),
        ("version 1", ggufBytes(version: 1), "version 1"),
        ("huge tensor count", ggufBytes(tensorCount: UInt64.max), "tensor count"),
        ("five dimensions", ggufBytes(tensors: [("a", [1, 1, 1, 1, 8], 0, [UInt8](repeating: 0, count: 32))]), "dimensions"),
        ("overflowing shape", ggufBytes(tensors: [("a", [1 << 32, 1 << 32], 0, [])]), "overflows"),
        ("unknown type", ggufBytes(tensors: [("a", [8], 1000, [UInt8](repeating: 0, count: 32))]), "ggml type 1000"),
        ("Q8_0 row of 33", ggufBytes(tensors: [("a", [33], 8, [UInt8](repeating: 0, count: 34))]), "multiple"),
        ("duplicate tensor", ggufBytes(tensors: [("a", [8], 0, [UInt8](repeating: 0, count: 32)), ("a", [8], 0, [UInt8](repeating: 0, count: 32))]), "twice"),
        ("alignment 0", ggufBytes(entries: [("general.architecture", stringValue("llama")), ("general.alignment", u32Value(0))]), "alignment"),
        ("alignment 2^30", ggufBytes(entries: [("general.architecture", stringValue("llama")), ("general.alignment", u32Value(1 << 30))]), "alignment"),
        ("duplicate key", ggufBytes(entries: [("general.architecture", stringValue("llama")), ("general.architecture", stringValue("gpt2"))]), "twice"),
        ("newline in a key", ggufBytes(entries: [("evil\nkey", [13, 0, 0, 0, 0])]), "value type 13"),
    ]

    @Test(arguments: malformed.indices)
    func malformedGGUFIsOneLineForInspectAndConvert(index: Int) throws {
        let (label, bytes, mention) = Self.malformed[index]
        let folder = try CLIRunner.makeTemporaryFolder()
        let path = folder + "/bad.gguf"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for arguments in [["inspect", path], ["convert", path, "-o", folder + "/out.swq"], ["convert", path, "-o", folder + "/out.gguf"]] {
            let result = try CLIRunner.run(arguments)
            #expect(result.status == 1 && !result.signalled, "\(label) \(arguments[0]): \(result)")
            #expect(result.stderrLines.count == 1, "\(label) \(arguments[0]): \(result)")
            let line = result.stderrLines.first ?? ""
            #expect(line.hasPrefix("swiftquant: error: \(path): "), "\(label): \(line)")
            #expect(line.contains(mention), "\(label): \(line)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/out.swq"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/out.gguf"))
    }

    @Test func ggufOutputKeepsTokenTypesWhateverTheRules() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        let input = folder + "/bert.gguf"
        let bytes = ggufBytes(
            entries: [("general.architecture", stringValue("bert"))],
            tensors: [
                ("token_types.weight", [64, 2], 0, [UInt8](repeating: 0, count: 2 * 64 * 4)),
                ("blk.0.attn_q.weight", [64, 64], 0, [UInt8](repeating: 0, count: 64 * 64 * 4)),
            ])
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        let rules = folder + "/rules.yaml"
        try "defaults: false\nrules:\n  - match: \"*\"\n".write(toFile: rules, atomically: true, encoding: .utf8)

        let plan = try CLIRunner.run(["plan", input, "--format", "gguf", "--config", rules])
        #expect(plan.status == 0, "\(plan)")
        let tokenTypes = plan.stdout.split(separator: "\n").first { $0.contains("token_types.weight") } ?? ""
        #expect(tokenTypes.hasPrefix("keep") && tokenTypes.contains("llama.cpp never quantizes"), "\(tokenTypes)")
        #expect(tokenTypes.contains("overrides \(rules):3"), "\(tokenTypes)")
        let query = plan.stdout.split(separator: "\n").first { $0.contains("blk.0.attn_q.weight") } ?? ""
        #expect(query.hasPrefix("quantize") && query.contains("Q8_0"), "\(query)")
        // Without --format gguf the same rules quantize it: the protection belongs to the output.
        let native = try CLIRunner.run(["plan", input, "--config", rules])
        #expect(native.stdout.split(separator: "\n").contains { $0.hasPrefix("quantize") && $0.contains("token_types.weight") })

        let output = folder + "/out.gguf"
        let converted = try CLIRunner.run(["convert", input, "-o", output, "--config", rules, "--json"])
        #expect(converted.status == 0, "\(converted)")
        let inspected = try CLIRunner.run(["inspect", output, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        let types = Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"] as? String ?? "", $0["dtype"] as? String ?? "") })
        #expect(types["token_types.weight"] == "F32")
        #expect(types["blk.0.attn_q.weight"] == "Q8_0")
    }

    @Test func unknownPresetIsOneLine() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        let input = folder + "/m.gguf"
        try Data(ggufBytes()).write(to: URL(fileURLWithPath: input))
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/o.gguf", "--preset", "q8"])
        #expect(result.status == 1 && result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("llama-quantize"))
    }

    @Test func unsupportedHuggingFaceArchitectureIsOneLineNamingArch() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        let input = try SafeTensorsFixture.llama(layers: 1, width: 64).write(to: folder + "/model.safetensors")
        try #"{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}"#
            .write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/o.gguf"])
        #expect(result.status == 1 && result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("GPT2LMHeadModel") && result.stderr.contains("--arch"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/o.gguf"))
    }

    @Test func convertWritesGGUFThatInspectReads() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        var fixture = SafeTensorsFixture.llama(layers: 1, width: 64)
        fixture.addFloats("model.layers.0.mlp.odd.weight", [16, 48], seed: 77)
        let input = try fixture.write(to: folder + "/tiny.safetensors")
        let output = folder + "/tiny.gguf"

        // No config.json and no --arch: one line that says what to pass.
        let missing = try CLIRunner.run(["convert", input, "-o", output])
        #expect(missing.status == 1 && missing.stderrLines.count == 1)
        #expect(missing.stderr.contains("--arch"))
        #expect(!FileManager.default.fileExists(atPath: output))

        // --arch only means something for GGUF output.
        let wrongFormat = try CLIRunner.run(["convert", input, "-o", folder + "/tiny.swq", "--arch", "llama"])
        #expect(wrongFormat.status == 1 && wrongFormat.stderrLines.count == 1)

        let converted = try CLIRunner.run(["convert", input, "-o", output, "--arch", "llama"])
        #expect(converted.status == 0, "\(converted)")
        // The summary names the scheme the GGUF stores, not the plan's per-channel.
        #expect(converted.stdout.contains("(q8_0)") && !converted.stdout.contains("per-channel"))
        #expect(converted.stdout.contains("model.layers.0.mlp.odd.weight: written as F16"))

        let gguf = try GGUFFile(path: output)
        #expect(gguf.metadata["general.architecture"] == .string("llama"))
        #expect(gguf.info(for: "model.layers.0.self_attn.q_proj.weight")?.dtype == .q8_0)
        #expect(gguf.info(for: "model.layers.0.mlp.odd.weight")?.dtype == .f16)
        #expect(gguf.info(for: "model.embed_tokens.weight")?.dtype == .f32)

        let inspected = try CLIRunner.run(["inspect", output])
        #expect(inspected.status == 0 && inspected.stdout.contains("Q8_0"))

        // And back: the GGUF converts to the native format.
        let native = try CLIRunner.run(["convert", output, "-o", folder + "/back.swq", "--quiet"])
        #expect(native.status == 0, "\(native)")
        #expect(try CLIRunner.run(["verify", folder + "/back.swq"]).status == 0)
    }
}
