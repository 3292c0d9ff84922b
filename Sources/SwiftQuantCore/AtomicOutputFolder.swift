#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A folder written under a temporary name beside its destination and renamed into place only
/// when complete: the folder counterpart of ``AtomicOutputFile``, for model folders (weights,
/// index, config, tokenizer) that a runtime must see whole or not at all.
///
/// The temporary folder is `.NAME.swiftquant-tmp-PID` beside the destination (same file
/// system, so the rename is atomic). Files inside it are written with ``file(named:)`` (each
/// an ``AtomicOutputFile``, fsynced on commit). An error or `deinit` without ``commit()``
/// removes the folder; a temporary folder left by a killed run (its PID no longer alive) is
/// removed by the next run writing the same destination. A signal arriving mid-run leaves the
/// temporary folder (the signal handler may only unlink files), and that next run removes it.
///
/// Replacing an existing destination (`force`) is two renames: the old folder is moved aside,
/// the new one into place, then the old one removed, so a crash between them leaves the old
/// folder under `.NAME.swiftquant-old-PID` rather than nothing.
public final class AtomicOutputFolder {
    /// The final path.
    public let destination: String
    /// The temporary folder being filled.
    public let temporaryPath: String
    private let replacing: Bool
    private var finished = false

    /// Creates the temporary folder for `destination`.
    ///
    /// - Parameters:
    ///   - destination: the folder path the output is renamed to once it is complete.
    ///   - force: replace an existing destination folder (never one holding an input).
    ///   - inputs: files or folders being read; the destination may not be any of them or
    ///     the folder of any of them.
    public init(destination: String, force: Bool, inputs: [String] = []) throws(OutputFolderError) {
        self.destination = destination
        let folder = parentFolder(of: destination), name = fileName(of: destination)
        guard !name.isEmpty, name != ".", name != ".." else { throw .notAFolder(path: destination) }
        var existing = stat()
        let exists = stat(destination, &existing) == 0
        if exists {
            guard (existing.st_mode & S_IFMT) == S_IFDIR else { throw .notAFolder(path: destination) }
            for input in inputs where Self.isInput(input, inside: existing) {
                throw .wouldOverwriteInput(path: destination, input: input)
            }
            if !force { throw .exists(path: destination) }
        }
        replacing = exists
        removeStaleTemporaryFolders(folder: folder, name: name)
        temporaryPath = joinedPath(folder, ".\(name).swiftquant-tmp-\(getpid())")
        removeTree(temporaryPath)
        guard mkdir(temporaryPath, 0o777) == 0 else {
            throw .cannotCreate(path: destination, folder: folder, errno: errno)
        }
    }

    deinit { discard() }

    /// An atomic file named `name` inside the temporary folder.
    public func file(named name: String) throws(OutputFileError) -> AtomicOutputFile {
        try AtomicOutputFile(destination: joinedPath(temporaryPath, name), force: false)
    }

    /// The path `name` will have inside the temporary folder (for renames before commit).
    public func temporaryPath(of name: String) -> String { joinedPath(temporaryPath, name) }

    /// Copies the file at `source` into the folder as `name`, fsynced.
    public func copyFile(from source: String, named name: String) throws(OutputFolderError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .cannotRead(path: source, errno: errno) }
        defer { close(input) }
        let output: AtomicOutputFile
        do { output = try file(named: name) } catch { throw .file(error) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(path: source, errno: errno)
            }
            if count == 0 { break }
            let failure = buffer.withUnsafeBytes { bytes -> OutputFileError? in
                do throws(OutputFileError) { try output.write(UnsafeRawBufferPointer(rebasing: bytes[0..<count]), at: offset) } catch { return error }
                return nil
            }
            if let failure { throw .file(failure) }
            offset += count
        }
        do { try output.commit() } catch { throw .file(error) }
    }

    /// Renames a finished file inside the temporary folder.
    public func rename(_ name: String, to newName: String) throws(OutputFolderError) {
        guard renamePath(temporaryPath(of: name), temporaryPath(of: newName)) == 0 else {
            throw .writeFailed(path: joinedPath(destination, newName), errno: errno)
        }
    }

    /// Flushes the folder, renames it over the destination (moving an existing one aside and
    /// removing it afterwards) and flushes the parent folder.
    public func commit() throws(OutputFolderError) {
        guard !finished else { return }
        let folderDescriptor = open(temporaryPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            _ = fsync(folderDescriptor)
            close(folderDescriptor)
        }
        let parent = parentFolder(of: destination)
        var aside: String?
        if replacing {
            let moved = joinedPath(parent, ".\(fileName(of: destination)).swiftquant-old-\(getpid())")
            removeTree(moved)
            guard renamePath(destination, moved) == 0 else { throw .writeFailed(path: destination, errno: errno) }
            aside = moved
        }
        guard renamePath(temporaryPath, destination) == 0 else {
            let code = errno
            if let aside { _ = renamePath(aside, destination) }
            throw .writeFailed(path: destination, errno: code)
        }
        finished = true
        if let aside { removeTree(aside) }
        let parentDescriptor = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if parentDescriptor >= 0 {
            _ = fsync(parentDescriptor)
            close(parentDescriptor)
        }
    }

    /// Removes the temporary folder; the destination is left as it was.
    public func discard() {
        guard !finished else { return }
        finished = true
        removeTree(temporaryPath)
    }

    /// Whether `input` is the folder `folder` or a file or folder directly inside it.
    private static func isInput(_ input: String, inside folder: stat) -> Bool {
        var info = stat()
        guard stat(input, &info) == 0 else { return false }
        if info.st_dev == folder.st_dev && info.st_ino == folder.st_ino { return true }
        var parent = stat()
        guard stat(parentFolder(of: input), &parent) == 0 else { return false }
        return parent.st_dev == folder.st_dev && parent.st_ino == folder.st_ino
    }
}

/// Why an output folder cannot be written.
public enum OutputFolderError: Error, Equatable, Sendable, CustomStringConvertible {
    case exists(path: String)
    case notAFolder(path: String)
    case wouldOverwriteInput(path: String, input: String)
    case cannotCreate(path: String, folder: String, errno: Int32)
    case cannotRead(path: String, errno: Int32)
    case writeFailed(path: String, errno: Int32)
    /// A file inside the folder could not be written.
    case file(OutputFileError)

    public var description: String {
        switch self {
        case .exists(let path):
            "\(path): already exists; choose another output folder or replace it explicitly"
        case .notAFolder(let path):
            "\(path): is a file or not a folder name; give an output folder path"
        case .wouldOverwriteInput(let path, let input):
            "\(path): holds the input \(input); choose a different output folder"
        case .cannotCreate(let path, let folder, let code):
            "\(path): cannot create a folder in \(folder): \(String(cString: strerror(code)))"
        case .cannotRead(let path, let code):
            "\(path): cannot read it to copy it: \(String(cString: strerror(code)))"
        case .writeFailed(let path, let code):
            "\(path): write failed: \(String(cString: strerror(code)))"
        case .file(let error):
            error.description
        }
    }
}

/// `rename(2)`, named apart from ``AtomicOutputFolder/rename(_:to:)``.
private func renamePath(_ from: String, _ to: String) -> Int32 {
    rename(from, to)
}

/// Removes `path` and everything under it (no symlinks are followed).
private func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        if let directory = opendir(path) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { removeTree(joinedPath(path, name)) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Removes `.NAME.swiftquant-tmp-PID` folders in `folder` whose process no longer runs.
private func removeStaleTemporaryFolders(folder: String, name: String) {
    guard let directory = opendir(folder) else { return }
    let prefix = ".\(name).swiftquant-tmp-"
    var stale: [String] = []
    while let entry = readdir(directory) {
        let entryName = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard entryName.hasPrefix(prefix), let pid = Int32(entryName.dropFirst(prefix.count)), pid > 0 else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { stale.append(entryName) }
    }
    closedir(directory)
    for entryName in stale { removeTree(joinedPath(folder, entryName)) }
}
