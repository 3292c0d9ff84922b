import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A new empty folder for one test, under one folder per test process
/// (`$TMPDIR/swiftquant-tests-<pid>/`) that is removed when the process exits.
///
/// Tests often hand the path to a subprocess or keep it in a suite's stored property, so
/// folders live until the process ends rather than until a scope ends. A process that was
/// killed cannot clean up; the next test process removes the folders of processes that no
/// longer exist.
///
/// Creating a folder under the temporary directory does not fail in practice; if it does,
/// the path is still returned and the first write into it fails with an error naming it,
/// which fails the test that asked (a test helper that traps would take the whole run down).
public func temporaryFolder() -> String {
    let folder = TemporaryFolders.processFolder + "/" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}

/// The per-process root behind `temporaryFolder()`.
enum TemporaryFolders {
    static let prefix = "swiftquant-tests-"

    static var base: String {
        FileManager.default.temporaryDirectory.path
    }

    /// Created once per process; registers its removal at exit and removes dead processes' roots.
    static let processFolder: String = {
        removeFoldersOfEndedProcesses()
        let folder = base + "/" + prefix + String(getpid())
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        atexit {
            // A C callback: no captured context, so the path is recomputed from the pid.
            try? FileManager.default.removeItem(
                atPath: FileManager.default.temporaryDirectory.path + "/swiftquant-tests-" + String(getpid()))
        }
        return folder
    }()

    /// Removes `swiftquant-tests-<pid>` folders whose process has ended (killed runs).
    static func removeFoldersOfEndedProcesses() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: base + "/" + name)
            }
        }
    }
}
