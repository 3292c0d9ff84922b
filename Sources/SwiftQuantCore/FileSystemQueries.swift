#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether `path` names a directory (following symbolic links).
package func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

/// Whether anything exists at `path` (following symbolic links).
package func fileExists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
}

/// The names in directory `path`, without `.` and `..`, sorted by their bytes so the result
/// does not depend on the file system's order.
package func directoryEntries(_ path: String) throws(FileError) -> [String] {
    guard let directory = opendir(path) else { throw .cannotOpen(path: path, errno: errno) }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
}

// Path helpers: the one set the package uses for "/"-separated paths (no Foundation), so
// that every module splits and joins paths the same way.

/// `name` inside `folder`.
package func joinedPath(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}

/// The folder part of `path` (`.` when there is none).
package func parentFolder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// The part of `path` after its last `/`: empty when `path` ends with one, so a caller that
/// needs a file name can tell a folder path from a file path.
package func fileName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}

/// The last component of `path`, ignoring trailing slashes (`models/bert/` gives `bert`): how a
/// file or folder is named in messages and metadata.
package func lastPathComponent(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    return trimmed.split(separator: "/").last.map(String.init) ?? String(trimmed)
}
