import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the package's executables (`swiftquant`, `minilm-embed`) as a user would, for
/// end-to-end tests: a real subprocess, real exit status, stdout and stderr captured apart.
///
/// ```swift
/// let result = try CLIRunner.run(["inspect", path, "--json"])
/// #expect(result.status == 0)
/// #expect(result.stderrLines.isEmpty)
/// ```
///
/// The executable is looked up beside the running test bundle first (so tests always run
/// the binary from the same build), then in the repository's `.build/debug` and
/// `.build/release`, then at `$SWIFTQUANT` for `swiftquant`.
public enum CLIRunner {
    /// What a run produced.
    public struct Result: Sendable, CustomStringConvertible {
        /// The exit status (or the terminating signal's number when `signalled`).
        public var status: Int32
        /// Whether the process died of a signal (a trap or crash) instead of exiting.
        public var signalled: Bool
        public var stdout: String
        public var stderr: String
        /// Whether the run was killed for exceeding its timeout (a hang).
        public var timedOut = false

        /// Non-empty stderr lines.
        public var stderrLines: [String] {
            stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        }

        public var description: String {
            "status \(status)\(signalled ? " (signal)" : "")\(timedOut ? " (timed out)" : ""), stdout: \(stdout.prefix(2000)), stderr: \(stderr.prefix(2000))"
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case executableNotFound(name: String, searched: [String])

        public var description: String {
            switch self {
            case .executableNotFound(let name, let searched):
                "\(name) not found (looked in \(searched.joined(separator: ", "))); run `swift build` first"
            }
        }
    }

    /// Runs `executable` with `arguments` and waits for it to finish.
    ///
    /// - Parameters:
    ///   - environment: variables added to (or replacing) the test process's environment.
    ///   - currentDirectory: the working directory; the test process's when `nil`.
    ///   - timeout: seconds after which the process is killed (SIGKILL) and the result marked
    ///     `timedOut`, so a hang fails its test instead of stalling the suite.
    ///   - wrapper: a command that runs the executable, e.g. `["/usr/bin/setpriv", "--reuid=nobody", …]`
    ///     or `["/bin/bash", "-c", "ulimit -f 64; exec \"$@\"", "bash"]`; the executable's path and
    ///     `arguments` are appended to it.
    public static func run(
        _ arguments: [String], executable: String = "swiftquant",
        environment: [String: String] = [:], currentDirectory: String? = nil, timeout: Double = 300,
        wrapper: [String] = []
    ) throws -> Result {
        let process = Process()
        process.executableURL = try executableURL(named: executable)
        process.arguments = arguments
        if let command = wrapper.first {
            process.arguments = Array(wrapper.dropFirst()) + [process.executableURL!.path] + arguments
            process.executableURL = URL(fileURLWithPath: command)
        }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let currentDirectory {
            process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory)
        }
        // Files, not pipes: a pipe that fills up while we wait for exit would deadlock.
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let stdoutURL = URL(fileURLWithPath: folder + "/stdout")
        let stderrURL = URL(fileURLWithPath: folder + "/stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        var timedOut = false
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
        process.waitUntilExit()
        try stdoutHandle.close()
        try stderrHandle.close()
        return Result(
            status: process.terminationStatus,
            signalled: process.terminationReason == .uncaughtSignal,
            stdout: String(decoding: try Data(contentsOf: stdoutURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: stderrURL), as: UTF8.self),
            timedOut: timedOut)
    }

    /// The built executable `name`.
    public static func executableURL(named name: String) throws -> URL {
        var candidates: [URL] = []
        if let testBinary = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent(name))
        }
        // On macOS the test bundle's executable lives inside Foo.xctest/Contents/MacOS.
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name))
        for configuration in ["debug", "release"] {
            candidates.append(repositoryRoot.appendingPathComponent(".build/\(configuration)/\(name)"))
        }
        if name == "swiftquant", let override = ProcessInfo.processInfo.environment["SWIFTQUANT"], !override.isEmpty {
            candidates.append(URL(fileURLWithPath: override))
        }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) {
            return found
        }
        throw Failure.executableNotFound(name: name, searched: candidates.map(\.path))
    }

    /// The repository root (kept here because end-to-end tests name samples relative to it).
    public static var repositoryRoot: URL { TestModels.repositoryRoot }

    /// A new empty folder, removed when the test process exits (see `temporaryFolder()`).
    public static func makeTemporaryFolder() throws -> String {
        temporaryFolder()
    }
}
