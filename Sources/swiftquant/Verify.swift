import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant verify`: every checksum of a checkpoint and, against its source, the error of
/// every quantized tensor.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum of a SwiftQuant checkpoint; with --against, measure its error against the source.",
        discussion: """
            Every chunk of every tensor is checked against its XXH3 checksum and decoded. Exit \
            status 1 names the first damaged tensor. With --against SOURCE, each quantized tensor \
            is compared with the source's weights (max abs error, mean abs error, relative error, \
            SNR) and each kept tensor must match the source exactly.
            """)

    @Argument(help: "A SwiftQuant checkpoint (.swq).")
    var checkpoint: String

    @Option(help: ArgumentHelp("The checkpoint it was converted from.", valueName: "source"))
    var against: String?

    @Flag(help: "Print the result as JSON on stdout.")
    package var json = false

    package func run() throws {
        let bar = ProgressBar(enabled: true)
        let report: VerificationReport
        do {
            report = try SwiftQuant.verify(checkpoint: checkpoint, against: against) { progress in
                bar.update(
                    tensorsDone: progress.tensorsDone, tensorCount: progress.tensorCount,
                    bytesDone: progress.bytesDone, totalBytes: progress.totalBytes)
            }
            bar.finish()
        } catch {
            bar.finish()
            throw error
        }
        if json {
            print(String(decoding: try report.encoder(pretty: false).encode(report), as: UTF8.self))
        } else {
            print(textReport(report))
        }
        let failures = report.failures
        if let first = failures.first {
            throw VerificationError.failed(count: failures.count, first: first.problem ?? "")
        }
    }

    private func textReport(_ report: VerificationReport) -> String {
        var lines: [String] = []
        let rows = report.tensors
        if against != nil {
            let width = max(6, rows.map(\.name.count).max() ?? 0)
            lines.append("TENSOR".padding(toLength: width, withPad: " ", startingAt: 0)
                + "  STORED        MAX ABS ERR  MEAN ABS ERR  REL ERR %   SNR dB")
            for row in rows {
                var line = row.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                line += row.stored.padding(toLength: 12, withPad: " ", startingAt: 0)
                if let problem = row.problem {
                    line += "  FAILED: \(problem)"
                } else if let metrics = row.metrics {
                    line += String(
                        format: "  %11.4g  %12.4g  %9.3f  %7.1f", Double(metrics.maxAbsError), Double(metrics.meanAbsError),
                        Double(metrics.relativeErrorPercent), Double(metrics.snrDecibels))
                } else {
                    line += "  " + (row.note ?? "identical to the source")
                }
                lines.append(line)
            }
        } else {
            for row in rows where row.problem != nil { lines.append("\(row.name): FAILED: \(row.problem!)") }
        }
        let failures = report.failures.count
        let verdict = failures == 0 ? "all checksums OK" : "\(failures) damaged"
        lines.append("\(checkpoint): \(rows.count) tensors, \(verdict)")
        return lines.joined(separator: "\n")
    }
}
