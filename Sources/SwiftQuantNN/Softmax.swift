import CSwiftQuantKernels
import SwiftQuantKernels

/// Numerically stable softmax of each row of a row-major `[rows, columns]` matrix, in place:
/// the row maximum is subtracted before `exp`, so large scores cannot overflow.
///
/// exp is a range reduction and a polynomial (about 2 ulp), the same on every instruction set.
/// The one softmax of SwiftQuantNN: attention blocks call it (or its kernel) rather than
/// keeping their own copy.
///
/// - Precondition: `values.count == rows * columns`.
public func softmaxRows(_ values: inout [Float], rows: Int, columns: Int) {
    precondition(values.count == rows * columns, "softmaxRows: \(values.count) values are not \(rows) rows of \(columns)")
    guard rows > 0, columns > 0 else { return }
    let isa = KernelISA.active.rawValue
    values.withUnsafeMutableBufferPointer { buffer in
        sqk_softmax_rows(isa, buffer.baseAddress, columns, 0, rows)
    }
}
