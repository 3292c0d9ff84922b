import Foundation
import Testing
import SwiftQuant

/// The malformed-input corpus (``MalformedInputCorpus``) through the real binary and through
/// the readers in process.
///
/// For every input, each command that reads it (`inspect`, `verify`, `convert`, and `export`
/// for checkpoints; `plan --config` and `convert --config` for configs) must exit with status 1
/// and exactly one `swiftquant: error:` line on stderr: no crash, no hang (each run has a
/// timeout), no output left behind (the `-o` folder stays empty, temporary files included),
/// and the input unchanged.
@Suite("Malformed-input corpus", .tags(.slow))
struct MalformedInputCorpusTests {
    static var samplePath: String {
        CLIRunner.repositoryRoot.appendingPathComponent("Samples/tiny-llama.safetensors").path
    }

    /// A hang is any run longer than this (the slowest command here takes well under a second).
    static let timeout = 60.0

    /// The commands that read `input`, each with whether it must fail.
    func commands(for input: MalformedInput, path: String, output: String) -> [(arguments: [String], mustFail: Bool)] {
        switch input.kind {
        case .config:
            return [
                (["plan", Self.samplePath, "--config", path], true),
                (["convert", Self.samplePath, "--config", path, "-o", output + "/out.swq", "--quiet"], true),
            ]
        case .safetensors, .gguf, .checkpoint:
            var commands: [(arguments: [String], mustFail: Bool)] = [
                (["inspect", path], input.expectation == .rejectedEverywhere),
                (["verify", path], true),
                (["convert", path, "-o", output + "/out.swq", "--quiet"], true),
            ]
            if input.kind == .checkpoint {
                commands.append((["export", path, "-o", output + "/out.safetensors", "--layout", "int8", "--quiet"], true))
            }
            return commands
        }
    }

    /// Runs every command on `input` and checks the contract; returns the number of runs.
    @discardableResult
    func expectCleanRejection(_ input: MalformedInput) throws -> Int {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = try input.write(into: folder + "/in")
        let output = folder + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let before = snapshot(folder + "/in")
        var runs = 0
        for (arguments, mustFail) in commands(for: input, path: path, output: output) {
            let result = try CLIRunner.run(arguments, timeout: Self.timeout)
            runs += 1
            let what = "\(input) — swiftquant \(arguments[0]): \(result)"
            #expect(!result.timedOut, "hung: \(what)")
            #expect(!result.signalled, "crashed: \(what)")
            if mustFail || result.status != 0 {
                #expect(result.status == 1, "\(what)")
                #expect(result.stderrLines.count == 1, "not one line: \(what)")
                #expect(result.stderrLines.first?.hasPrefix("swiftquant: error: ") == true, "\(what)")
            }
            let left = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
            #expect(left.isEmpty, "left behind \(left): \(what)")
            for name in left { try? FileManager.default.removeItem(atPath: output + "/" + name) }
        }
        #expect(snapshot(folder + "/in") == before, "\(input): the input was modified")
        return runs
    }

    /// Every file under `folder` with its bytes (FIFOs by name only: reading one would block).
    func snapshot(_ folder: String) -> [String: Data] {
        var files: [String: Data] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return files }
        for case let name as String in enumerator {
            var info = stat()
            guard stat(folder + "/" + name, &info) == 0 else { continue }
            files[name] = (info.st_mode & S_IFMT) == S_IFREG ? FileManager.default.contents(atPath: folder + "/" + name) : Data()
        }
        return files
    }

    /// The readers in process: opening and reading every tensor must throw, in one line.
    func expectReaderRejection(_ input: MalformedInput) throws {
        guard !input.isFIFO, input.kind != .config else { return }
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = try input.write(into: folder)
        var failure: Error?
        do {
            let source = try openTensorSource(at: path)
            #expect(input.expectation == .rejectedOnRead || input.kind != .checkpoint, "\(input): opened")
            for tensor in source.tensors {
                if let checkpoint = source as? CheckpointFile { try checkpoint.verify(tensorNamed: tensor.name) }
                let data = try source.data(for: tensor.name)
                withExtendedLifetime(data) { _ = data.bytes.reduce(0, &+) }
            }
        } catch {
            failure = error
        }
        let error = try #require(failure, "\(input): read without an error")
        #expect(!"\(error)".contains("\n") && !"\(error)".isEmpty, "\(input): \(error)")
    }

    // MARK: The corpus

    @Test("malformed safetensors files and folders are rejected in one line")
    func safeTensors() throws {
        let cases = MalformedInputCorpus.safeTensorsCases()
        #expect(cases.count >= 40)
        for input in cases {
            try expectReaderRejection(input)
            try expectCleanRejection(input)
        }
    }

    @Test("malformed GGUF files are rejected in one line")
    func gguf() throws {
        let cases = MalformedInputCorpus.ggufCases()
        #expect(cases.count >= 40)
        // The builder's own file is valid: the cases differ from it in one way each.
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(MalformedInputCorpus.GGUFBuilder().bytes).write(to: URL(fileURLWithPath: folder + "/good.gguf"))
        #expect(try openTensorSource(at: folder + "/good.gguf").tensors.count == 2)
        for input in cases {
            try expectReaderRejection(input)
            try expectCleanRejection(input)
        }
    }

    @Test("crafted checkpoints (versions, overflowing offsets, sizes and counts) are rejected in one line")
    func craftedCheckpoints() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The builder's own file is valid and decodes, so each case fails for its one change.
        try Data(MalformedInputCorpus.CheckpointBuilder.standard().bytes).write(to: URL(fileURLWithPath: folder + "/good.swq"))
        let good = try CheckpointFile(path: folder + "/good.swq")
        try good.verify(tensorNamed: "w")
        #expect(try good.quantizedWeight(for: "w")?.scales == [Float](repeating: 0.01, count: 4))

        let cases = MalformedInputCorpus.craftedCheckpointCases()
        #expect(cases.count >= 50)
        for input in cases {
            try expectReaderRejection(input)
            try expectCleanRejection(input)
        }

        // A decoded size the stored bytes cannot back is refused before it is allocated.
        let claim = try #require(cases.first { $0.name.hasPrefix("zstd chunk claiming") })
        let claimed = try CheckpointFile(path: try claim.write(into: folder + "/claim"))
        do {
            try claimed.verify(tensorNamed: "w")
            Issue.record("a 1 GiB claim from 64 stored bytes was accepted")
        } catch {
            #expect("\(error)".contains("cannot hold"), "\(error)")
        }
    }

    @Test("a converted checkpoint truncated at every boundary or bit-flipped is rejected in one line")
    func damagedCheckpoints() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for compression in [[], ["--no-compression"]] {
            let path = folder + "/good\(compression.count).swq"
            let converted = try CLIRunner.run(["convert", Self.samplePath, "-o", path, "--quiet"] + compression)
            try #require(converted.status == 0, "\(converted)")
            let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let reader = try CheckpointFile(path: path)
            let cases = MalformedInputCorpus.damagedCheckpointCases(good: good, reader: reader)
            #expect(cases.count >= 40)
            // Every case through the readers; a sample of them (every third) through the CLI.
            for (index, input) in cases.enumerated() {
                try expectReaderRejection(input)
                if index % 3 == 0 || input.expectation == .rejectedOnRead { try expectCleanRejection(input) }
            }
        }
    }

    /// The bytes no checksum covers are padding the reader never reads: a flip there must leave
    /// what `export` writes byte for byte the same (and `verify` passing).
    @Test("bit flips in unchecked padding leave the exported weights unchanged")
    func paddingFlipsAreHarmless() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/good.swq"
        let converted = try CLIRunner.run(["convert", Self.samplePath, "-o", path, "--quiet"])
        try #require(converted.status == 0, "\(converted)")
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let reader = try CheckpointFile(path: path)
        let headerEnd = 64 + Int(good.u64(at: 16))
        let lastSegmentEnd = reader.entries.flatMap { [$0.values, $0.scales].compactMap { $0 } }
            .map { $0.offset + $0.storedLength }.max() ?? reader.dataOffset
        let padding = [headerEnd, (headerEnd + reader.dataOffset) / 2, reader.dataOffset - 1, lastSegmentEnd, good.count - 1]
            .filter { ($0 >= headerEnd && $0 < reader.dataOffset) || ($0 >= lastSegmentEnd && $0 < good.count) }
        #expect(padding.count >= 3, "the sample's layout has too little padding to test")

        let reference = try CLIRunner.run(["export", path, "-o", folder + "/reference.safetensors", "--layout", "int8", "--quiet"])
        try #require(reference.status == 0, "\(reference)")
        let expected = try Data(contentsOf: URL(fileURLWithPath: folder + "/reference.safetensors"))
        for (index, offset) in padding.enumerated() {
            var bytes = good
            bytes[offset] ^= UInt8(1) << (index % 8)
            let flipped = folder + "/flipped.swq"
            try Data(bytes).write(to: URL(fileURLWithPath: flipped))
            let verify = try CLIRunner.run(["verify", flipped])
            #expect(verify.status == 0, "byte \(offset): \(verify)")
            let output = folder + "/flipped.safetensors"
            let exported = try CLIRunner.run(["export", flipped, "-o", output, "--layout", "int8", "--quiet", "--force"])
            #expect(exported.status == 0, "byte \(offset): \(exported)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == expected, "byte \(offset): export changed")
        }
    }

    @Test("malformed rules configs are rejected in one line")
    func configs() throws {
        let cases = MalformedInputCorpus.configCases()
        #expect(cases.count >= 30)
        for input in cases { try expectCleanRejection(input) }
    }
}
