import SwiftQuantCore
import SwiftQuantGGUF
import SwiftQuantKernels

extension [ConvertedTensorReport] {
    /// The converter's reports amended with what `GGUFWriter` stored: a Q8_0 tensor reports
    /// per-group(32) with the Q8_0 error; one written as F16 instead reports kept F16 and why.
    public func applying(_ outcomes: [GGUFTensorOutcome]) -> [ConvertedTensorReport] {
        let byName = Dictionary(outcomes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return map { report in
            guard case .quantize = report.action, let outcome = byName[report.name] else { return report }
            var amended = report
            if outcome.dtype == .q8_0 {
                amended.action = .quantize(.perGroup(size: Q8_0.blockLength))
                amended.metrics = outcome.metrics
            } else {
                amended.action = .keep(.f16)
                amended.metrics = nil
            }
            if let note = outcome.note {
                amended.note = amended.note.map { $0 + "; " + note } ?? note
            }
            return amended
        }
    }
}
