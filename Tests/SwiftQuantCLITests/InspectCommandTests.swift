import Foundation
import Testing
import SwiftQuant

/// `swiftquant inspect` end to end: the built binary on good and bad files.
@Suite("swiftquant inspect")
struct InspectCommandTests {
    // MARK: Fixtures

    /// A safetensors file: u64 header length, header text, data.
    private func writeSafeTensors(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil,
                                  name: String = "model.safetensors", in folder: String? = nil) throws -> String {
        let headerBytes = Array(header.utf8)
        let length = declaredLength ?? UInt64(headerBytes.count)
        let bytes = withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes + data
        let path = try (folder ?? CLIRunner.makeTemporaryFolder()) + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func writeText(_ text: String, name: String, in folder: String) throws -> String {
        let path = folder + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A file whose tensors and metadata the JSON test knows exactly.
    private let knownHeader = """
        {"__metadata__":{"format":"pt","quote":"say \\"hi\\""},\
        "b.scalar":{"dtype":"BF16","shape":[],"data_offsets":[12,14]},\
        "a.weight":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},\
        "c.empty":{"dtype":"I64","shape":[0,4],"data_offsets":[14,14]},\
        "d.flags":{"dtype":"BOOL","shape":[3],"data_offsets":[14,17]}}
        """

    private var samplePath: String { CLIRunner.repositoryRoot.appendingPathComponent("Samples/tiny-llama.safetensors").path }
    private var miniLMPath: String { get throws { try TestModels.miniLMSafeTensors } }

    private func parseJSON(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any])
    }

    // MARK: Good input

    @Test("--json lists exactly the header's tensors, in offset order, and its metadata")
    func jsonOfKnownFile() throws {
        let path = try writeSafeTensors(header: knownHeader, data: [UInt8](repeating: 0, count: 17))
        let result = try CLIRunner.run(["inspect", path, "--json"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty)
        let json = try parseJSON(result.stdout)
        #expect(Set(json.keys) == ["format", "tensors", "metadata"])
        #expect(json["format"] as? String == "safetensors")
        #expect(json["metadata"] as? [String: String] == ["format": "pt", "quote": "say \"hi\""])
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        #expect(tensors.map { Set($0.keys) }.allSatisfy { $0 == ["name", "dtype", "shape", "bytes"] })
        #expect(tensors.map { $0["name"] as? String } == ["a.weight", "b.scalar", "c.empty", "d.flags"])
        #expect(tensors.map { $0["dtype"] as? String } == ["F16", "BF16", "I64", "BOOL"])
        #expect(tensors.map { $0["shape"] as? [Int] } == [[2, 3], [], [0, 4], [3]])
        #expect(tensors.map { $0["bytes"] as? Int } == [12, 2, 0, 3])
    }

    @Test("The table shows every tensor, the totals and the metadata")
    func tableOfKnownFile() throws {
        let path = try writeSafeTensors(header: knownHeader, data: [UInt8](repeating: 0, count: 17))
        let result = try CLIRunner.run(["inspect", path])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(path) (safetensors)")
        #expect(lines.contains { $0.hasPrefix("TENSOR") && $0.contains("DTYPE") && $0.contains("SHAPE") && $0.hasSuffix("BYTES") })
        let row = try #require(lines.first { $0.hasPrefix("a.weight") })
        #expect(row.split(separator: " ", omittingEmptySubsequences: true).map(String.init) == ["a.weight", "F16", "[2,", "3]", "12"])
        #expect(lines.contains { $0.hasPrefix("b.scalar") && $0.contains("[]") })
        // 6 + 1 + 0 + 3 elements; 12 + 2 + 0 + 3 bytes.
        #expect(lines.contains("4 tensors, 10 parameters, 17 bytes (17 bytes)"))
        #expect(lines.contains("  format: pt"))
        #expect(lines.contains("  quote: say \"hi\""))
    }

    @Test("The sample checkpoint inspects with its llama tensor names and dtypes")
    func sample() throws {
        let result = try CLIRunner.run(["inspect", samplePath, "--json"])
        #expect(result.status == 0, "\(result)")
        let json = try parseJSON(result.stdout)
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        let dtypes = Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"] as! String, $0["dtype"] as! String) })
        // What Samples/make_sample.py writes: embeddings, 2 layers of 9 tensors, final norm, lm_head.
        #expect(tensors.count == 21)
        #expect(dtypes["model.embed_tokens.weight"] == "F16")
        #expect(dtypes["model.layers.1.mlp.down_proj.weight"] == "BF16")
        #expect(dtypes["model.layers.0.input_layernorm.weight"] == "F32")
        #expect(dtypes["lm_head.weight"] == "F16")
        #expect(json["metadata"] as? [String: String] == ["format": "pt"])
    }

    @Test("all-MiniLM-L6-v2 inspects as Python's safetensors reports it")
    func miniLMFile() throws {
        let result = try CLIRunner.run(["inspect", miniLMPath, "--json"])
        #expect(result.status == 0, "\(result)")
        let json = try parseJSON(result.stdout)
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        // Counts from Python: safe_open(...).keys() has 104 names, one I64, the rest F32.
        #expect(tensors.count == 104)
        #expect(tensors.filter { $0["dtype"] as? String == "I64" }.map { $0["name"] as? String } == ["embeddings.position_ids"])
        #expect(json["metadata"] as? [String: String] == ["format": "pt"])
        let table = try CLIRunner.run(["inspect", miniLMPath])
        #expect(table.stdout.contains("104 tensors, 22,713,728 parameters"))
    }

    @Test("A sharded folder inspects as one collection")
    func shardedFolder() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        _ = try writeSafeTensors(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#, data: [1, 2],
                                 name: "model-00001-of-00002.safetensors", in: folder)
        _ = try writeSafeTensors(header: #"{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [3],
                                 name: "model-00002-of-00002.safetensors", in: folder)
        _ = try writeText(#"{"metadata":{"total_size":3},"weight_map":{"b":"model-00002-of-00002.safetensors","a":"model-00001-of-00002.safetensors"}}"#,
                          name: "model.safetensors.index.json", in: folder)
        for path in [folder, folder + "/model.safetensors.index.json"] {
            let result = try CLIRunner.run(["inspect", "--json", path])
            #expect(result.status == 0, "\(result)")
            let json = try parseJSON(result.stdout)
            let tensors = try #require(json["tensors"] as? [[String: Any]])
            #expect(tensors.map { $0["name"] as? String } == ["a", "b"])
            #expect((json["metadata"] as? [String: Any])?["total_size"] as? Int == 3)
        }
    }

    @Test("--help documents the path and --json")
    func help() throws {
        let result = try CLIRunner.run(["inspect", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--json"))
        #expect(result.stdout.contains("Print JSON instead of a table"))
        #expect(result.stdout.contains("sharded safetensors folder"))
    }

    // MARK: Bad input: one stderr line, exit 1, nothing on stdout

    private func expectOneLineFailure(_ arguments: [String], mentioning fragments: [String],
                                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLIRunner.run(arguments)
        #expect(result.status == 1 && !result.signalled, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "\(result)", sourceLocation: sourceLocation)
        let line = result.stderrLines.first ?? ""
        #expect(line.hasPrefix("swiftquant: error: "), sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(line.contains(fragment), "\(line) should mention \(fragment)", sourceLocation: sourceLocation)
        }
    }

    @Test("Malformed safetensors files fail with one line naming the file and the problem", arguments: [
        ("tiny", "too small"),
        ("huge-header", "exceeds the safetensors limit"),
        ("past-end", "runs past the end"),
        ("bad-json", "not valid JSON at byte 13"),
        ("duplicate", "appears twice"),
        ("metadata-number", "__metadata__"),
        ("bad-dtype", "does not define"),
        ("gap", "leaves a gap"),
        ("size", "needs 8 bytes"),
        ("overflow", "overflows"),
        ("trailing", "after the last tensor"),
        ("truncated", "truncated"),
    ])
    func malformedFile(kind: String, fragment: String) throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        let w = #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
        let path: String
        switch kind {
        case "tiny": path = try writeText("abc", name: "model.safetensors", in: folder)
        case "huge-header": path = try writeSafeTensors(header: "{}", declaredLength: 1 << 33, in: folder)
        case "past-end": path = try writeSafeTensors(header: "{}", declaredLength: 64, in: folder)
        case "bad-json": path = try writeSafeTensors(header: #"{"w" 1}"#, in: folder)
        case "duplicate": path = try writeSafeTensors(header: "{\"w\":\(w),\"w\":\(w)}", data: [UInt8](repeating: 0, count: 8), in: folder)
        case "metadata-number": path = try writeSafeTensors(header: #"{"__metadata__":{"n":1}}"#, in: folder)
        case "bad-dtype": path = try writeSafeTensors(header: #"{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], in: folder)
        case "gap": path = try writeSafeTensors(header: #"{"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0], in: folder)
        case "size": path = try writeSafeTensors(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], in: folder)
        case "overflow": path = try writeSafeTensors(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], in: folder)
        case "trailing": path = try writeSafeTensors(header: "{\"w\":\(w)}", data: [UInt8](repeating: 0, count: 9), in: folder)
        case "truncated": path = try writeSafeTensors(header: "{\"w\":\(w)}", data: [0, 0, 0], in: folder)
        default: Issue.record("unknown case \(kind)"); return
        }
        try expectOneLineFailure(["inspect", path], mentioning: [path, fragment])
        try expectOneLineFailure(["inspect", path, "--json"], mentioning: [path, fragment])
    }

    @Test("A name with a newline stays on one error line")
    func newlineInName() throws {
        let entry = #""a\nb":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#
        let path = try writeSafeTensors(header: "{\(entry),\(entry)}", data: [0])
        try expectOneLineFailure(["inspect", path], mentioning: [#"'a\nb'"#])
    }

    @Test("Bad sharded checkpoints fail with one line naming the shard and tensor")
    func badSharded() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        _ = try writeSafeTensors(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1],
                                 name: "model-00001-of-00002.safetensors", in: folder)
        _ = try writeText(#"{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#,
                          name: "model.safetensors.index.json", in: folder)
        try expectOneLineFailure(["inspect", folder], mentioning: ["model-00002-of-00002.safetensors", "'b'", "does not exist"])

        _ = try writeSafeTensors(header: #"{"c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1],
                                 name: "model-00002-of-00002.safetensors", in: folder)
        try expectOneLineFailure(["inspect", folder], mentioning: ["model-00002-of-00002.safetensors", "'b'"])

        let empty = try CLIRunner.makeTemporaryFolder()
        try expectOneLineFailure(["inspect", empty], mentioning: [empty, "no .safetensors files"])
    }

    @Test("Missing and unrecognised paths fail with one line")
    func missingAndUnrecognized() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        try expectOneLineFailure(["inspect", folder + "/absent.safetensors"], mentioning: ["absent.safetensors", "No such file"])
        let text = try writeText("hello, world", name: "notes.txt", in: folder)
        try expectOneLineFailure(["inspect", text], mentioning: [text, "not a safetensors file"])
    }

    @Test("Bad arguments fail with one line", arguments: [
        ["inspect"], ["inspect", "--bogus", "x"], ["inspect", "a", "b"], ["inspect", "--json"],
    ])
    func badArguments(arguments: [String]) throws {
        try expectOneLineFailure(arguments, mentioning: [])
    }
}
