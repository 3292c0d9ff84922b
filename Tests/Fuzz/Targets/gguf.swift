import SwiftQuantCore
import SwiftQuantGGUF
// libFuzzer target: the GGUF reader (header, key/values, tensor infos, alignment, then each
// tensor's bytes, including Q8_0 dequantization).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = mapFuzzInput(data, size)
    do {
        let reader = try GGUFFile(file: file)
        exerciseTensors(reader)
    } catch {
        requireOneLine(error)
    }
    return 0
}
