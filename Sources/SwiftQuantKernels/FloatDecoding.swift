import SwiftQuantCore
/// Decodes little-endian `source` values of `encoding` into `destination` as Float32.
///
/// Exact for every representable value (Float16 and BFloat16 always are); Float64 rounds to
/// nearest even. Subnormals, ±0, ±inf and NaN keep their meaning. `source` need not be aligned.
/// Runs the C kernels of the instruction set chosen at run time (`SWIFTQUANT_ISA` can lower
/// it) on `Parallelism.threads` threads.
/// Precondition: `source.count == destination.count * encoding.byteWidth`.
public func decodeFloats(
    _ source: UnsafeRawBufferPointer, encoding: FloatEncoding,
    into destination: UnsafeMutableBufferPointer<Float>
) {
    precondition(source.count == destination.count * encoding.byteWidth)
    let count = destination.count
    guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
    kernelDecode(EncodedValues(base: input, encoding: encoding, count: count), into: output)
}

/// Decodes into a new array.
public func decodeFloats(_ source: UnsafeRawBufferPointer, encoding: FloatEncoding) -> [Float] {
    let count = source.count / encoding.byteWidth
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        decodeFloats(
            UnsafeRawBufferPointer(rebasing: source[0..<count * encoding.byteWidth]), encoding: encoding,
            into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
        initialized = count
    }
}
