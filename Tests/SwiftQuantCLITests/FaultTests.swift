import Foundation
import Testing
import SwiftQuant

/// Faults around `convert` and `export`: signals mid-write, a full disk, inputs that cannot be
/// read, outputs that cannot be written, and an output that is the input. Each ends with one
/// error line and exit status 1 (or death by the signal), the input unchanged and nothing left
/// behind but, after SIGKILL, a temporary file whose name says what it is and which the next
/// run removes.
///
/// Unreadable files: the tests run as root, which `chmod 000` does not stop. The permission
/// cases therefore run the CLI as `nobody` through `setpriv` (util-linux), and are skipped
/// where it is missing; the cases that need no privilege change (a missing file, a folder
/// where a file belongs, a file where a folder belongs) always run.
@Suite("Faults during convert and export", .serialized)
struct FaultTests {
    static var samplePath: String {
        CLIRunner.repositoryRoot.appendingPathComponent("Samples/tiny-llama.safetensors").path
    }
    /// Big enough (87 MiB) that a signal lands while the output is being written.
    static var miniLMPath: String {
        get throws { try TestModels.miniLMSafeTensors }
    }
    static let setpriv = "/usr/bin/setpriv"
    static var canDropPrivileges: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: setpriv)
    }
    /// Runs the CLI as `nobody`, for whom permissions apply.
    static let asNobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

    /// The temporary file `AtomicOutputFile` writes beside `destination` for process `pid`.
    func temporaryName(for destination: String, pid: Int32) -> String {
        ".\((destination as NSString).lastPathComponent).swiftquant-tmp-\(pid)"
    }

    func contents(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// Size and modification time: enough to see that a read-only input was not rewritten.
    func fingerprint(_ path: String) -> [Int] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        return [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_ino)]
    }

    func expectOneErrorLine(_ result: CLIRunner.Result, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1 && !result.signalled && !result.timedOut, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.first?.hasPrefix("swiftquant: error: ") == true, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(fragment), "expected '\(fragment)' in: \(result)", sourceLocation: sourceLocation)
    }

    /// Starts `convert INPUT -o OUTPUT` and returns once its temporary file exists, so a
    /// signal sent then lands mid-write.
    func startConvert(_ input: String, to output: String) throws -> Process {
        let process = Process()
        process.executableURL = try CLIRunner.executableURL(named: "swiftquant")
        process.arguments = ["convert", input, "-o", output, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let folder = (output as NSString).deletingLastPathComponent
        let temporary = folder + "/" + temporaryName(for: output, pid: process.processIdentifier)
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: temporary), process.isRunning, Date() < deadline {
            usleep(2_000)
        }
        return process
    }

    /// Waits for `process`, killing it after `timeout` seconds; returns whether it ended by itself.
    func wait(_ process: Process, timeout: Double = 120) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        process.waitUntilExit()
        return true
    }

    // MARK: Signals

    @Test("SIGINT and SIGTERM mid-write end the run and remove the temporary file", arguments: [SIGINT, SIGTERM])
    func signalRemovesTheTemporaryFile(signal: Int32) throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try Self.miniLMPath
        let before = fingerprint(input)
        let output = folder + "/model.swq"
        let process = try startConvert(input, to: output)
        let temporary = temporaryName(for: output, pid: process.processIdentifier)
        try #require(process.isRunning, "convert finished before the signal could be sent")
        #expect(contents(folder) == [temporary])
        kill(process.processIdentifier, signal)
        #expect(wait(process), "convert did not stop on signal \(signal)")
        // The handler removes the file, then lets the signal end the process as usual.
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal,
                "ended with \(process.terminationReason == .exit ? "status" : "signal") \(process.terminationStatus)")
        #expect(contents(folder).isEmpty, "left behind: \(contents(folder))")
        #expect(fingerprint(input) == before)
    }

    @Test("a SIGKILLed run's temporary file names itself, and the next run to the same output removes it")
    func staleTemporaryFileIsRemovedByTheNextRun() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = folder + "/model.swq"
        let process = try startConvert(Self.miniLMPath, to: output)
        let pid = process.processIdentifier
        try #require(process.isRunning, "convert finished before it could be killed")
        kill(pid, SIGKILL)
        _ = wait(process)
        // SIGKILL cannot be handled: the partial file stays, named for its output and process.
        let stale = temporaryName(for: output, pid: pid)
        #expect(contents(folder) == [stale])
        #expect(stale.hasPrefix(".model.swq.swiftquant-tmp-"))

        // Another output in the same folder leaves it alone (it is not that output's file) …
        let other = try CLIRunner.run(["convert", Self.samplePath, "-o", folder + "/other.swq", "--quiet"])
        #expect(other.status == 0, "\(other)")
        #expect(contents(folder) == [stale, "other.swq"])
        // … the next run writing model.swq removes it, and its own output is complete.
        let rerun = try CLIRunner.run(["convert", Self.samplePath, "-o", output, "--quiet"])
        #expect(rerun.status == 0, "\(rerun)")
        #expect(contents(folder) == ["model.swq", "other.swq"])
        let verified = try CLIRunner.run(["verify", output])
        #expect(verified.status == 0, "\(verified)")
    }

    // MARK: Disk full

    @Test("a write past the file size limit (ulimit -f) is one error line and leaves nothing behind",
          arguments: ["out.swq", "out.safetensors", "out.gguf"])
    func fileSizeLimit(outputName: String) throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 256 KiB (ulimit -f counts 1 KiB blocks): the sample's output needs about 800 KiB.
        let limited = ["/bin/bash", "-c", "ulimit -f 256 && exec \"$@\"", "bash"]
        var arguments = ["convert", Self.samplePath, "-o", folder + "/" + outputName, "--quiet"]
        if outputName.hasSuffix(".gguf") { arguments += ["--arch", "llama"] }
        let result = try CLIRunner.run(arguments, timeout: 120, wrapper: limited)
        expectOneErrorLine(result, containing: "write failed")
        #expect(contents(folder).isEmpty, "left behind: \(contents(folder))")
    }

    @Test("export past the file size limit is one error line and leaves nothing behind")
    func exportFileSizeLimit() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let checkpoint = folder + "/model.swq"
        let converted = try CLIRunner.run(["convert", Self.samplePath, "-o", checkpoint, "--quiet"])
        try #require(converted.status == 0, "\(converted)")
        let output = folder + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let limited = ["/bin/bash", "-c", "ulimit -f 256 && exec \"$@\"", "bash"]
        for layout in ["int8", "dequantized"] {
            let result = try CLIRunner.run(
                ["export", checkpoint, "-o", output + "/model.safetensors", "--layout", layout, "--quiet"],
                timeout: 120, wrapper: limited)
            expectOneErrorLine(result, containing: "write failed")
            #expect(contents(output).isEmpty, "left behind: \(contents(output))")
        }
    }

    // MARK: Unreadable input, unwritable output

    @Test("an input that cannot be read is one error line")
    func unreadableInput() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = folder + "/out.swq"
        let missing = try CLIRunner.run(["convert", folder + "/missing.safetensors", "-o", output])
        expectOneErrorLine(missing, containing: "No such file")
        // A folder where a file belongs (an empty folder is no sharded checkpoint either).
        try FileManager.default.createDirectory(atPath: folder + "/model.swq", withIntermediateDirectories: true)
        for command in [["verify", folder + "/model.swq"], ["export", folder + "/model.swq", "-o", folder + "/x.safetensors"],
                        ["convert", folder + "/model.swq", "-o", output]] {
            let result = try CLIRunner.run(command)
            #expect(result.status == 1 && result.stderrLines.count == 1, "\(command[0]): \(result)")
        }
        #expect(contents(folder) == ["model.swq"])
    }

    @Test("a file its user may not read is one error line", .enabled(if: canDropPrivileges, "needs root and setpriv"))
    func permissionDeniedInput() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // nobody may enter the folder and write there, but not read the input.
        chmod(folder, 0o777)
        let input = folder + "/model.safetensors"
        try FileManager.default.copyItem(atPath: Self.samplePath, toPath: input)
        chmod(input, 0o000)
        let config = folder + "/rules.yaml"
        try Data("granularity: per-channel\n".utf8).write(to: URL(fileURLWithPath: config))
        chmod(config, 0o000)
        let inspect = try CLIRunner.run(["inspect", input], wrapper: Self.asNobody)
        expectOneErrorLine(inspect, containing: "Permission denied")
        let convert = try CLIRunner.run(["convert", input, "-o", folder + "/out.swq"], wrapper: Self.asNobody)
        expectOneErrorLine(convert, containing: "Permission denied")
        chmod(input, 0o644)
        let plan = try CLIRunner.run(["plan", input, "--config", config], wrapper: Self.asNobody)
        expectOneErrorLine(plan, containing: "permission denied")
        #expect(contents(folder) == ["model.safetensors", "rules.yaml"])
    }

    @Test("an output folder that cannot be written is one error line")
    func unwritableOutputFolder() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let missingFolder = try CLIRunner.run(["convert", Self.samplePath, "-o", folder + "/no/such/folder/out.swq"])
        expectOneErrorLine(missingFolder, containing: "cannot create")
        // A file where the folder should be.
        let file = folder + "/file"
        try Data([1]).write(to: URL(fileURLWithPath: file))
        let fileAsFolder = try CLIRunner.run(["convert", Self.samplePath, "-o", file + "/out.swq"])
        expectOneErrorLine(fileAsFolder, containing: "cannot create")
        // The output is an existing folder.
        let folderAsOutput = try CLIRunner.run(["convert", Self.samplePath, "-o", folder, "--force"])
        expectOneErrorLine(folderAsOutput, containing: "folder")
        #expect(contents(folder) == ["file"])
    }

    @Test("a folder its user may not write to is one error line", .enabled(if: canDropPrivileges, "needs root and setpriv"))
    func permissionDeniedOutputFolder() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        chmod(folder, 0o755)  // root's: nobody may read it but not create files
        let result = try CLIRunner.run(["convert", Self.samplePath, "-o", folder + "/out.swq"], wrapper: Self.asNobody)
        expectOneErrorLine(result, containing: "Permission denied")
        #expect(contents(folder).isEmpty)
    }

    // MARK: Output = input

    @Test("an output path that is the input (itself, a symlink or a hard link) is refused, --force or not")
    func outputIsTheInput() throws {
        let folder = try CLIRunner.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = folder + "/model.safetensors"
        try FileManager.default.copyItem(atPath: Self.samplePath, toPath: input)
        try FileManager.default.createSymbolicLink(atPath: folder + "/symlink.swq", withDestinationPath: input)
        try FileManager.default.linkItem(atPath: input, toPath: folder + "/hardlink.swq")
        let original = try Data(contentsOf: URL(fileURLWithPath: input))
        for output in [input, folder + "/symlink.swq", folder + "/hardlink.swq", folder + "/./model.safetensors"] {
            for force in [[], ["--force"]] {
                let result = try CLIRunner.run(["convert", input, "-o", output] + force)
                expectOneErrorLine(result, containing: "is the input")
            }
        }
        // The same through export: a checkpoint exported onto itself.
        let checkpoint = folder + "/model.swq"
        let converted = try CLIRunner.run(["convert", input, "-o", checkpoint, "--quiet"])
        try #require(converted.status == 0, "\(converted)")
        let checkpointBytes = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let exported = try CLIRunner.run(["export", checkpoint, "-o", checkpoint, "--layout", "int8", "--force"])
        expectOneErrorLine(exported, containing: "is the input")

        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == original)
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == checkpointBytes)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/symlink.swq") == input)
        #expect(contents(folder) == ["hardlink.swq", "model.safetensors", "model.swq", "symlink.swq"])
    }
}
