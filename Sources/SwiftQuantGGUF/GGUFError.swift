import SwiftQuantCore
import SwiftQuantKernels
/// Why a file is not a GGUF file SwiftQuant can read.
///
/// Every case names the file and the byte offset of the field that is wrong, so a report
/// points at the exact spot; `description` is one line that also says what to do.
public enum GGUFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first four bytes are not `GGUF`.
    case badMagic(path: String, found: [UInt8])
    /// The version reads as a byte-swapped small number: a big-endian GGUF file.
    case bigEndian(path: String, version: UInt32)
    /// A version other than 2 or 3.
    case unsupportedVersion(path: String, version: UInt32)
    /// The file ends inside a field.
    case truncated(path: String, offset: Int, reading: String, needed: Int, available: Int)
    /// A count or length larger than the rest of the file could hold (the crafted-length CVEs).
    case lengthBeyondFile(path: String, offset: Int, what: String, length: UInt64, limit: Int)
    /// A string that is not valid UTF-8.
    case invalidUTF8(path: String, offset: Int, what: String)
    /// A metadata value type or array element type outside 0…12.
    case unknownValueType(path: String, offset: Int, key: String, type: UInt32)
    /// More tensors or metadata entries than ``GGUFFormat/maximumCount``.
    case countTooLarge(path: String, offset: Int, what: String, count: Int)
    /// Metadata arrays holding more elements in all than ``GGUFFormat/maximumMetadataArrayElements``.
    case metadataTooLarge(path: String, offset: Int, key: String, elements: UInt64, limit: Int)
    /// An array whose elements are arrays (ggml rejects them).
    case nestedArray(path: String, offset: Int, key: String)
    /// A bool byte other than 0 or 1.
    case invalidBool(path: String, offset: Int, key: String, value: UInt8)
    /// A key that occurs twice.
    case duplicateKey(path: String, offset: Int, key: String)
    /// `general.alignment` stored as something other than a u32.
    case alignmentWrongType(path: String, offset: Int, type: String)
    /// `general.alignment` that is 0, not a power of two, or larger than ``GGUFFormat/maximumAlignment``.
    case invalidAlignment(path: String, offset: Int, value: UInt32)
    /// A tensor name of 64 bytes or more, which ggml cannot hold.
    case tensorNameTooLong(path: String, offset: Int, name: String, length: Int)
    /// A tensor name that occurs twice.
    case duplicateTensorName(path: String, offset: Int, name: String)
    /// More than four dimensions.
    case tooManyDimensions(path: String, offset: Int, tensor: String, count: UInt32)
    /// Dimensions whose product (or byte size) does not fit in 63 bits.
    case shapeOverflow(path: String, offset: Int, tensor: String, dimensions: [UInt64])
    /// A ggml type number this reader does not know.
    case unknownTensorType(path: String, offset: Int, tensor: String, type: UInt32)
    /// A block-quantized tensor whose rows do not fill whole blocks.
    case rowNotMultipleOfBlock(path: String, offset: Int, tensor: String, dtype: DType, rowLength: Int)
    /// A data offset that is not a multiple of the alignment.
    case misalignedTensorData(path: String, offset: Int, tensor: String, dataOffset: UInt64, alignment: Int)
    /// A data offset before the previous tensor's.
    case tensorsOutOfOrder(path: String, offset: Int, tensor: String, dataOffset: UInt64, previous: String, previousOffset: UInt64)
    /// Data that starts inside the previous tensor's data.
    case overlappingTensorData(path: String, offset: Int, tensor: String, dataOffset: UInt64, previous: String, previousEnd: UInt64)
    /// Data that runs past the end of the file.
    case tensorDataPastEnd(path: String, offset: Int, tensor: String, end: UInt64, fileSize: Int)

    public var description: String {
        switch self {
        case .badMagic(let path, let found):
            let shown = found.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "?" }.joined()
            return "\(path): not a GGUF file: starts with '\(shown)' instead of 'GGUF'"
        case .bigEndian(let path, let version):
            return "\(path): byte 4: big-endian GGUF (version reads as 0x\(String(version, radix: 16))); SwiftQuant reads little-endian GGUF only — convert it with gguf-py's gguf_convert_endian.py"
        case .unsupportedVersion(let path, let version):
            let hint = version == 1 ? "GGUF v1 is obsolete; re-export it with a current llama.cpp" : "SwiftQuant reads GGUF v2 and v3"
            return "\(path): byte 4: GGUF version \(version) is not supported; \(hint)"
        case .truncated(let path, let offset, let reading, let needed, let available):
            return "\(path): byte \(offset): file ends inside \(reading) (needs \(needed) bytes, \(available) left); the file is truncated — copy or download it again"
        case .lengthBeyondFile(let path, let offset, let what, let length, let limit):
            return "\(path): byte \(offset): \(what) is \(length), more than the rest of the file can hold (at most \(limit)); the file is corrupt or crafted"
        case .invalidUTF8(let path, let offset, let what):
            return "\(path): byte \(offset): \(what) is not valid UTF-8; GGUF strings must be UTF-8"
        case .unknownValueType(let path, let offset, let key, let type):
            return "\(path): byte \(offset): metadata '\(printableInMessage(key))' has unknown value type \(type) (GGUF defines 0…12); the file is corrupt or from a newer GGUF revision"
        case .countTooLarge(let path, let offset, let what, let count):
            return "\(path): byte \(offset): the file declares \(count) \(what), more than the \(GGUFFormat.maximumCount) SwiftQuant reads; the file is corrupt or crafted"
        case .metadataTooLarge(let path, let offset, let key, let elements, let limit):
            return "\(path): byte \(offset): metadata array '\(printableInMessage(key))' brings the metadata to \(elements) array elements, more than the \(limit) SwiftQuant reads; the file is corrupt or crafted"
        case .nestedArray(let path, let offset, let key):
            return "\(path): byte \(offset): metadata '\(printableInMessage(key))' is an array of arrays, which GGUF readers (ggml included) reject"
        case .invalidBool(let path, let offset, let key, let value):
            return "\(path): byte \(offset): metadata '\(printableInMessage(key))' has bool byte \(value); a GGUF bool is 0 or 1"
        case .duplicateKey(let path, let offset, let key):
            return "\(path): byte \(offset): metadata key '\(printableInMessage(key))' occurs twice; GGUF keys must be unique"
        case .alignmentWrongType(let path, let offset, let type):
            return "\(path): byte \(offset): general.alignment is stored as \(type); GGUF requires a u32"
        case .invalidAlignment(let path, let offset, let value):
            return "\(path): byte \(offset): general.alignment is \(value); it must be a power of two from 1 to \(GGUFFormat.maximumAlignment)"
        case .tensorNameTooLong(let path, let offset, let name, let length):
            return "\(path): byte \(offset): tensor name '\(printableInMessage(name, limit: 80))' is \(length) bytes; ggml allows at most \(GGUFFormat.maximumTensorNameBytes)"
        case .duplicateTensorName(let path, let offset, let name):
            return "\(path): byte \(offset): tensor '\(printableInMessage(name))' occurs twice; tensor names must be unique"
        case .tooManyDimensions(let path, let offset, let tensor, let count):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' has \(count) dimensions; GGUF allows at most \(GGUFFormat.maximumDimensions)"
        case .shapeOverflow(let path, let offset, let tensor, let dimensions):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' has dimensions \(dimensions) whose size overflows 64-bit arithmetic; the file is corrupt or crafted"
        case .unknownTensorType(let path, let offset, let tensor, let type):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' has unknown ggml type \(type); the file is corrupt or uses a type newer than SwiftQuant knows"
        case .rowNotMultipleOfBlock(let path, let offset, let tensor, let dtype, let rowLength):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' is \(dtype.rawValue) with rows of \(rowLength) values, not a multiple of its block of \(dtype.layout.elementsPerBlock)"
        case .misalignedTensorData(let path, let offset, let tensor, let dataOffset, let alignment):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' data offset \(dataOffset) is not a multiple of the alignment \(alignment)"
        case .tensorsOutOfOrder(let path, let offset, let tensor, let dataOffset, let previous, let previousOffset):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' data offset \(dataOffset) comes before that of the previous tensor '\(printableInMessage(previous))' (\(previousOffset)); GGUF stores tensor data in order"
        case .overlappingTensorData(let path, let offset, let tensor, let dataOffset, let previous, let previousEnd):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' data at offset \(dataOffset) overlaps tensor '\(printableInMessage(previous))', whose data ends at \(previousEnd)"
        case .tensorDataPastEnd(let path, let offset, let tensor, let end, let fileSize):
            return "\(path): byte \(offset): tensor '\(printableInMessage(tensor))' data ends at byte \(end), past the end of the \(fileSize)-byte file; the file is truncated — copy or download it again"
        }
    }
}
