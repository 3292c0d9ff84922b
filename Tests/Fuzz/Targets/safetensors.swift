import SwiftQuantCore
import SwiftQuantSafeTensors
// libFuzzer target: the safetensors reader (header length, JSON header, every validation rule,
// then each tensor's bytes).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = mapFuzzInput(data, size)
    do {
        let reader = try SafeTensorsFile(file: file)
        exerciseTensors(reader)
    } catch {
        requireOneLine(error)
    }
    return 0
}
