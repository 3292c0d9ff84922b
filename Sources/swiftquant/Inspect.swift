import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant inspect`: a checkpoint's tensors, totals and metadata, as a table or JSON.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a checkpoint's tensors (name, dtype, shape, bytes), totals and metadata.",
        discussion: """
            The format is recognised by content, not by name. Reading the listing touches only \
            the file headers, never the tensor data, so it is instant on any model size. For a \
            SwiftQuant checkpoint the table also shows each tensor's quantization, codec and \
            stored size.
            """)

    @Argument(help: ArgumentHelp(
        "A safetensors file, a sharded safetensors folder (or its model.safetensors.index.json), a GGUF file or a SwiftQuant checkpoint.",
        valueName: "path"))
    var path: String

    @Flag(help: "Print JSON instead of a table: {\"format\", \"tensors\": [{\"name\", \"dtype\", \"shape\", \"bytes\"}, …], \"metadata\"}, with \"quantization\", \"codec\" and \"stored_bytes\" for SwiftQuant checkpoints.")
    package var json = false

    package func run() throws {
        let source = try openTensorSource(at: path)
        let report = json ? try InspectReport(source).jsonText(pretty: true) + "\n" : Self.tableReport(source)
        FileHandle.standardOutput.write(Data(report.utf8))
    }

    // MARK: Table

    static func tableReport(_ source: any TensorSource) -> String {
        let showStorage = source.tensors.contains { $0.storage != nil }
        var header = ["TENSOR", "DTYPE", "SHAPE", "BYTES"]
        var rightAligned: Set<Int> = [3]
        if showStorage {
            header += ["QUANTIZATION", "CODEC", "STORED"]
            rightAligned.insert(6)
        }
        let rows = source.tensors.map { info in
            var row = [oneLine(info.name), info.dtype.rawValue, "[" + info.shape.map(String.init).joined(separator: ", ") + "]",
                       grouped(info.byteCount)]
            if showStorage {
                let storage = info.storage
                row += [storage.map { $0.quantization?.description ?? "kept" } ?? "-", storage?.codec ?? "-",
                        storage.map { grouped($0.storedByteCount) } ?? "-"]
            }
            return row
        }
        var lines = ["\(source.path) (\(source.formatName))", ""]
        lines += alignedColumns([header] + rows, rightAligned: rightAligned)

        let parameters = source.tensors.reduce(0) { $0 &+ $1.elementCount }
        let bytes = source.tensors.reduce(0) { $0 &+ $1.byteCount }
        var totals = "\(grouped(source.tensors.count)) tensors, \(grouped(parameters)) parameters, \(grouped(bytes)) bytes (\(binarySize(bytes)))"
        if showStorage {
            let stored = source.tensors.reduce(0) { $0 &+ ($1.storage?.storedByteCount ?? $1.byteCount) }
            totals += ", \(grouped(stored)) stored (\(binarySize(stored)))"
        }
        lines += ["", totals, ""]

        if source.metadata.isEmpty {
            lines.append("metadata: none")
        } else {
            lines.append("metadata:")
            for (key, value) in source.metadata.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(oneLine(key)): \(oneLine(value.display))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Rows padded into columns two spaces apart; the last column is not padded.
    private static func alignedColumns(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { column in
                let padding = String(repeating: " ", count: widths[column] - row[column].count)
                if rightAligned.contains(column) { return padding + row[column] }
                return column == columns - 1 ? row[column] : row[column] + padding
            }.joined(separator: "  ")
        }
    }

    /// `1234567` as `1,234,567`.
    private static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }

    /// `1264128` as `1.2 MiB`.
    private static func binarySize(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f", value) + " " + units[unit]
    }

    /// Metadata can hold multi-line text (GGUF chat templates): keep each entry on one line
    /// and short enough to read.
    private static func oneLine(_ text: String) -> String {
        var flat = text.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
        if flat.count > 160 { flat = String(flat.prefix(160)) + "… (\(text.count) characters)" }
        return flat
    }
}
