import Foundation

/// Numerically stable softmax of each row of a row-major `[rows, columns]` matrix, in place:
/// the row maximum is subtracted before `exp`, so large scores cannot overflow.
///
/// The one softmax of SwiftQuantNN: attention blocks call it (or its kernel) rather than
/// keeping their own copy.
///
/// - Precondition: `values.count == rows * columns`.
public func softmaxRows(_ values: inout [Float], rows: Int, columns: Int) {
    precondition(values.count == rows * columns, "softmaxRows: \(values.count) values are not \(rows) rows of \(columns)")
    for r in 0..<rows {
        let base = r * columns
        var maximum = -Float.infinity
        for j in 0..<columns { maximum = max(maximum, values[base + j]) }
        var sum: Float = 0
        for j in 0..<columns {
            let e = exp(values[base + j] - maximum)
            values[base + j] = e
            sum += e
        }
        let inverse = 1 / sum
        for j in 0..<columns { values[base + j] *= inverse }
    }
}
