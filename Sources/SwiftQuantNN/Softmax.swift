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

/// Replaces `count` values with their softmax, in place: one row of ``softmaxRows(_:rows:columns:)``
/// for callers that hold a pointer (the decoder's attention).
package func softmaxInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    sqk_softmax_rows(KernelISA.active.rawValue, values, count, 0, 1)
}

/// `Σ a[i]·b[i]` over `count` values, eight lanes at a time.
@inline(__always)
package func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        lanes = lanes.addingProduct(x, y)
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// `y += alpha · x` over `count` values.
@inline(__always)
package func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ alpha: Float, count: Int) {
    for i in 0..<count { y[i] += alpha * x[i] }
}
