import Foundation
import SwiftQuant
import SwiftQuantBench

/// `1.5 GB`, `12.3 MB`, `512 B`: decimal units, as file managers show sizes.
///
/// The one size formatter of every command's human-readable output.
func formatBytes(_ bytes: Int) -> String {
    let value = Double(bytes)
    if value >= 1e9 { return String(format: "%.2f GB", value / 1e9) }
    if value >= 1e6 { return String(format: "%.1f MB", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1f kB", value / 1e3) }
    return "\(bytes) B"
}
