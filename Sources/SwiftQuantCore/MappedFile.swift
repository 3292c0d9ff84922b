#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file.
///
/// Foundation's `.mappedIfSafe` reads the whole file into memory on Linux, so every reader
/// maps files itself through this type. Tensor bytes are views into the map: no copies.
/// The map lives as long as the object; views must not outlive it (``TensorData`` keeps
/// its owner alive for that reason).
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from, for error messages.
    public let path: String
    /// The whole file. Empty files map to an empty buffer.
    public let bytes: UnsafeRawBufferPointer

    private let base: UnsafeMutableRawPointer?
    private let length: Int

    /// Maps `path` read-only.
    public init(path: String) throws(FileError) {
        self.path = path
        // O_NONBLOCK: opening a FIFO nobody writes to would otherwise block forever; the
        // regular-file check below then rejects it. (It changes nothing for regular files.)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError.cannotOpen(path: path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FileError.notARegularFile(path: path) }
        let size = Int(info.st_size)
        length = size
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw FileError.cannotMap(path: path, errno: errno)
        }
        base = pointer
        bytes = UnsafeRawBufferPointer(start: pointer, count: size)
    }

    deinit {
        if let base { munmap(base, length) }
    }

    /// Tells the kernel that `range` will not be read again soon, so resident memory stays
    /// bounded while a large model streams through. The bytes stay valid: a later read
    /// faults them back in from the file.
    public func releasePages(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Only whole pages inside the range are released, never a neighbour's bytes.
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        guard start < end else { return }
        _ = madvise(base + start, end - start, Int32(MADV_DONTNEED))
    }
}

/// Errors opening or mapping a file.
public enum FileError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    case notARegularFile(path: String)
    case cannotMap(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let code):
            "\(path): cannot open: \(String(cString: strerror(code)))"
        case .notARegularFile(let path):
            "\(path): not a regular file"
        case .cannotMap(let path, let code):
            "\(path): cannot memory-map: \(String(cString: strerror(code)))"
        }
    }
}
