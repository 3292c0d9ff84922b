import Foundation
import Testing
import SwiftQuant

/// `convert` killed at random moments: the destination is either absent or a complete, valid
/// checkpoint; the input is unchanged; the next run removes the dead run's temporary file.
@Suite(.serialized) struct ConvertInterruptionTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    /// Starts `swiftquant convert` without waiting for it.
    func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = try CLIRunner.executableURL(named: "swiftquant")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func makeInput() throws -> (path: String, bytes: Data) {
        let path = try SafeTensorsFixture.llama(layers: 2, width: 256).write(to: folder + "/model.safetensors")
        return (path, try #require(contents(path)))
    }

    /// How long an uninterrupted conversion takes here, so kills land throughout it.
    func fullRunMicroseconds(_ input: String) throws -> UInt32 {
        let started = Date()
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/timing.swq", "--force", "--quiet"])
        #expect(result.status == 0, "\(result)")
        return UInt32(max(Date().timeIntervalSince(started), 0.05) * 1_000_000)
    }

    @Test func sigkillLeavesNothingOrAValidCheckpoint() throws {
        let (input, original) = try makeInput()
        let span = try fullRunMicroseconds(input)
        var state: UInt64 = 2026
        var sawAbsent = false
        for trial in 0..<10 {
            let output = folder + "/killed-\(trial).swq"
            let process = try start(["convert", input, "-o", output, "--quiet"])
            state = state &* 6364136223846793005 &+ 1442695040888963407
            usleep(UInt32(state >> 33) % (span + span / 4))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: output) {
                let verify = try CLIRunner.run(["verify", output])
                #expect(verify.status == 0, "trial \(trial): \(verify)")
            } else {
                sawAbsent = true
            }
            #expect(contents(input) == original, "trial \(trial): the input changed")
        }
        #expect(sawAbsent, "no kill landed before the rename; the test did not exercise interruption")
        // A later run to a destination whose run was killed removes that run's temporary file.
        let leftovers = temporaryFiles(in: folder)
        if let stale = leftovers.first {
            let destination = String(stale.dropFirst().prefix { $0 != "." }) + ".swq"
            let result = try CLIRunner.run(["convert", input, "-o", folder + "/" + destination, "--force", "--quiet"])
            #expect(result.status == 0, "\(result)")
            #expect(!temporaryFiles(in: folder).contains { $0.hasPrefix("." + destination + ".") })
        }
    }

    /// The signal must land mid-write (temporary file present, process running) for the test
    /// to count; on a busy machine a small conversion can finish between the check and the
    /// kill, so up to five runs are tried and at least one must have been interrupted.
    @Test(arguments: [SIGINT, SIGTERM])
    func signalsRemoveTheTemporaryFile(signal: Int32) throws {
        let (input, _) = try makeInput()
        let span = try fullRunMicroseconds(input)
        let output = folder + "/signalled.swq"
        var interrupted = 0
        for attempt in 0..<5 where interrupted == 0 {
            try? FileManager.default.removeItem(atPath: output)
            let process = try start(["convert", input, "-o", output, "--quiet"])
            // Wait for the temporary file to appear, then interrupt.
            var waited: UInt32 = 0
            while temporaryFiles(in: folder).isEmpty && waited < span * 4 && process.isRunning {
                usleep(1000)
                waited += 1000
            }
            let midWrite = process.isRunning && !temporaryFiles(in: folder).isEmpty
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal {
                #expect(process.terminationStatus == signal, "attempt \(attempt)")
                #expect(!FileManager.default.fileExists(atPath: output), "attempt \(attempt): a killed run left its output")
                if midWrite { interrupted += 1 }
            } else {
                // The run ended before the signal arrived: it must have finished cleanly.
                #expect(process.terminationStatus == 0, "attempt \(attempt)")
                #expect(FileManager.default.fileExists(atPath: output), "attempt \(attempt)")
            }
            #expect(temporaryFiles(in: folder).isEmpty, "attempt \(attempt): left \(temporaryFiles(in: folder))")
        }
        try #require(interrupted > 0, "no signal landed while the output was being written")
    }
}
