import SwiftQuantCore
// Shared by every fuzz target: the readers take a mapped file, so each input is written to a
// per-process scratch file and mapped, exactly as the CLI opens files.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The scratch file inputs are written to (in /dev/shm when it exists: no disk I/O).
let fuzzScratchPath: String = {
    var info = stat()
    let folder = stat("/dev/shm", &info) == 0 ? "/dev/shm" : "/tmp"
    return "\(folder)/swiftquant-fuzz-\(getpid())"
}()

/// Writes `data` to the scratch file and maps it.
func mapFuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> MappedFile {
    let fd = open(fuzzScratchPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    precondition(fd >= 0, "cannot create \(fuzzScratchPath)")
    var done = 0
    while done < size {
        let written = write(fd, data! + done, size - done)
        precondition(written > 0, "cannot write \(fuzzScratchPath)")
        done += written
    }
    close(fd)
    do {
        return try MappedFile(path: fuzzScratchPath)
    } catch {
        fatalError("cannot map \(fuzzScratchPath): \(error)")
    }
}

/// The CLI prints every error as one line: an error message with a line break is a finding.
func requireOneLine(_ error: any Error) {
    let text = "\(error)"
    if text.isEmpty || text.contains("\n") || text.contains("\r") {
        fatalError("error message is not one line: \(text.debugDescription)")
    }
}

/// Decodes every tensor small enough to decode (the readers' data paths, not just headers),
/// requiring that failures are one-line errors and that decoded sizes match the header.
func exerciseTensors(_ source: any TensorSource, maximumBytes: Int = 1 << 22) {
    for tensor in source.tensors where tensor.byteCount <= maximumBytes {
        do {
            let data = try source.data(for: tensor.name)
            if data.bytes.count != tensor.byteCount {
                fatalError("\(tensor.name): data(for:) returned \(data.bytes.count) bytes, header says \(tensor.byteCount)")
            }
            // Touch every byte, so a view past the end of the map faults here.
            var sum: UInt8 = 0
            for byte in data.bytes { sum &+= byte }
            _ = sum
        } catch {
            requireOneLine(error)
        }
        do {
            _ = try source.floats(for: tensor.name)
        } catch {
            requireOneLine(error)
        }
    }
}
