import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftQuant
import SwiftQuantBench

/// A one-line progress bar on stderr: tensors done, bytes, rate and ETA. It draws only when
/// stderr is a terminal (never into logs or pipes) and at most ten times a second.
final class ProgressBar {
    private let enabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled && isatty(2) != 0
    }

    func update(tensorsDone: Int, tensorCount: Int, bytesDone: Int, totalBytes: Int) {
        guard enabled else { return }
        let now = Date()
        guard tensorsDone == tensorCount || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(start), 1e-3)
        let fraction = totalBytes > 0 ? Double(bytesDone) / Double(totalBytes) : Double(tensorsDone) / Double(max(tensorCount, 1))
        let width = 24
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        let rate = Double(bytesDone) / elapsed
        let remaining = rate > 0 ? Double(totalBytes - bytesDone) / rate : 0
        let line = "[\(bar)] \(tensorsDone)/\(tensorCount) tensors  \(formatBytes(bytesDone))/\(formatBytes(totalBytes))  \(formatBytes(Int(rate)))/s  ETA \(formatDuration(remaining))"
        write("\r\u{1B}[K" + line)
        drawn = true
    }

    /// Clears the bar so the summary starts on a clean line.
    func finish() {
        guard enabled, drawn else { return }
        write("\r\u{1B}[K")
    }

    private func write(_ text: String) {
        writeToStandardError(text)
    }
}


/// `0:42`, `12:05`, `1:02:03`.
func formatDuration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
    return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
}

