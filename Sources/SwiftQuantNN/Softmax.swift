#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The decoder's own softmax and vector helpers. MiniLM has a private softmax of its own (being
// moved into SwiftQuantNN by another workstream): the two should become one at merge.

/// Replaces `count` values with their softmax, in place (max subtracted first, so no overflow).
package func softmaxInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    var maximum = values[0]
    for i in 1..<count where values[i] > maximum { maximum = values[i] }
    var sum: Float = 0
    for i in 0..<count {
        let e = expf(values[i] - maximum)
        values[i] = e
        sum += e
    }
    let inverse = 1 / sum
    for i in 0..<count { values[i] *= inverse }
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
