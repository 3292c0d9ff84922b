import SwiftQuantCore
import SwiftQuantKernels
/// Everything that can be wrong with a safetensors file or a sharded safetensors checkpoint.
///
/// Each case names the file, the tensor and the byte offset in the file where they apply;
/// ``description`` is one line that also says what to do. The first group mirrors the
/// reference Rust crate's errors (`HeaderTooSmall`, `HeaderTooLarge`, `InvalidHeaderLength`,
/// `InvalidHeaderDeserialization`, `InvalidOffset`, `TensorInvalidInfo`,
/// `ValidationOverflow`, `MetadataIncompleteBuffer`), split finer so the message says
/// exactly which rule failed.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    // MARK: One file

    /// The file is shorter than the 8-byte header length.
    case headerTooSmall(path: String, fileSize: Int)
    /// The header length is over the 100,000,000-byte limit.
    case headerTooLarge(path: String, headerLength: UInt64)
    /// The header would run past the end of the file.
    case invalidHeaderLength(path: String, headerLength: UInt64, fileSize: Int)
    /// The header is not valid UTF-8 JSON; `offset` is the file offset of the bad byte.
    case invalidHeaderJSON(path: String, offset: Int, reason: String)
    /// The header is valid JSON but not an object.
    case headerNotAnObject(path: String, found: String)
    /// `__metadata__` is not a map of string to string.
    case invalidMetadata(path: String, offset: Int, reason: String)
    /// Two header entries share a name; the format forbids it.
    case duplicateTensor(path: String, name: String, offset: Int)
    /// A tensor entry lacks a field or has one of the wrong type.
    case invalidTensorEntry(path: String, name: String, offset: Int, reason: String)
    /// A tensor's dtype is not one the safetensors format defines.
    case unknownDType(path: String, name: String, dtype: String, offset: Int)
    /// A tensor's `data_offsets` end before they begin.
    case invalidOffsets(path: String, name: String, begin: Int, end: Int)
    /// Sorted by offset, a tensor does not start where the previous one ended (a gap or an
    /// overlap); `previous` is `nil` for the first tensor, which must start at 0.
    case nonContiguousOffsets(path: String, name: String, begin: Int, expected: Int, previous: String?)
    /// ∏shape × dtype bits does not fit in 64 bits.
    case sizeOverflow(path: String, name: String, dtype: DType, shape: [Int])
    /// A sub-byte dtype whose total bit count is not a multiple of 8.
    case partialByte(path: String, name: String, dtype: DType, elementCount: Int)
    /// `data_offsets` span a different number of bytes than shape × dtype needs.
    case sizeMismatch(path: String, name: String, dtype: DType, shape: [Int], expected: Int, actual: Int)
    /// The tensors do not cover the data buffer exactly: the file is truncated or has extra bytes.
    case incompleteBuffer(path: String, tensorBytes: Int, dataBytes: Int)

    // MARK: Sharded checkpoints

    /// `model.safetensors.index.json` is not valid JSON or lacks a proper `weight_map`.
    case invalidIndex(path: String, offset: Int, reason: String)
    /// A folder holds neither an index nor any `.safetensors` file.
    case noSafeTensorsFiles(folder: String)
    /// The index points at a shard outside its folder (an absolute path or `..`).
    case shardOutsideFolder(index: String, shard: String)
    /// A shard named in the index does not exist.
    case missingShard(index: String, shard: String, tensor: String)
    /// The index maps a tensor to a shard that does not contain it.
    case tensorMissingFromShard(index: String, tensor: String, shard: String)
    /// A shard contains a tensor that the index does not map to it.
    case tensorNotInIndex(index: String, tensor: String, shard: String)
    /// Two shards contain a tensor of the same name.
    case duplicateTensorAcrossShards(folder: String, tensor: String, firstShard: String, secondShard: String)

    private static let corrupt = "the file is damaged or was not written as safetensors; re-download or re-export it"

    public var description: String {
        switch self {
        case .headerTooSmall(let path, let fileSize):
            return "\(path): file is \(fileSize) bytes, too small for the 8-byte safetensors header length; \(Self.corrupt)"
        case .headerTooLarge(let path, let length):
            return "\(path): header length \(length) at byte 0 exceeds the safetensors limit of 100,000,000 bytes; \(Self.corrupt)"
        case .invalidHeaderLength(let path, let length, let fileSize):
            return "\(path): header length \(length) at byte 0 runs past the end of the \(fileSize)-byte file; the file is truncated or not safetensors, re-download or re-export it"
        case .invalidHeaderJSON(let path, let offset, let reason):
            return "\(path): header is not valid JSON at byte \(offset): \(reason); \(Self.corrupt)"
        case .headerNotAnObject(let path, let found):
            return "\(path): header at byte 8 is \(found), not a JSON object of tensors; \(Self.corrupt)"
        case .invalidMetadata(let path, let offset, let reason):
            return "\(path): __metadata__ at byte \(offset) \(reason); it must map strings to strings, fix the writer that produced the file"
        case .duplicateTensor(let path, let name, let offset):
            return "\(path): tensor \(quotedName(name)) appears twice in the header (second at byte \(offset)); the format forbids duplicate names, re-export the file"
        case .invalidTensorEntry(let path, let name, let offset, let reason):
            return "\(path): tensor \(quotedName(name)) at byte \(offset): \(reason); \(Self.corrupt)"
        case .unknownDType(let path, let name, let dtype, let offset):
            return "\(path): tensor \(quotedName(name)) at byte \(offset) has dtype \(quotedName(dtype)), which the safetensors format does not define; convert it with a writer that uses a standard dtype"
        case .invalidOffsets(let path, let name, let begin, let end):
            return "\(path): tensor \(quotedName(name)) has data_offsets [\(begin), \(end)], which end before they begin; \(Self.corrupt)"
        case .nonContiguousOffsets(let path, let name, let begin, let expected, let previous):
            let relation = begin < expected ? "overlaps the previous tensor" : "leaves a gap of \(begin - expected) bytes"
            let after = previous.map { "after tensor \(quotedName($0)), which ends at \(expected)" } ?? "as the first tensor, which must start at 0"
            return "\(path): tensor \(quotedName(name)) starts at data byte \(begin) \(after); it \(relation); \(Self.corrupt)"
        case .sizeOverflow(let path, let name, let dtype, let shape):
            return "\(path): tensor \(quotedName(name)) of shape \(shape) and dtype \(dtype.rawValue) has a byte size that overflows 64 bits; \(Self.corrupt)"
        case .partialByte(let path, let name, let dtype, let count):
            return "\(path): tensor \(quotedName(name)) has \(count) elements of sub-byte dtype \(dtype.rawValue), which do not fill whole bytes; \(Self.corrupt)"
        case .sizeMismatch(let path, let name, let dtype, let shape, let expected, let actual):
            return "\(path): tensor \(quotedName(name)) of shape \(shape) and dtype \(dtype.rawValue) needs \(expected) bytes but its data_offsets span \(actual); \(Self.corrupt)"
        case .incompleteBuffer(let path, let tensorBytes, let dataBytes):
            let problem = tensorBytes < dataBytes
                ? "has \(dataBytes - tensorBytes) bytes after the last tensor"
                : "is truncated: the tensors need \(tensorBytes) data bytes but only \(dataBytes) follow the header"
            return "\(path): file \(problem); the data must end exactly where the last tensor ends, \(tensorBytes < dataBytes ? "re-export the file" : "re-download or re-export it")"
        case .invalidIndex(let path, let offset, let reason):
            return "\(path): not a valid sharded-checkpoint index at byte \(offset): \(reason); it must be {\"weight_map\": {tensor: shard file}}, re-download it"
        case .noSafeTensorsFiles(let folder):
            return "\(folder): folder has no model.safetensors.index.json and no .safetensors files; pass a safetensors file, a sharded folder or a GGUF file"
        case .shardOutsideFolder(let index, let shard):
            return "\(index): shard \(quotedName(shard)) lies outside the index's folder; shard names must be relative file names, fix the index"
        case .missingShard(let index, let shard, let tensor):
            return "\(index): shard \(quotedName(shard)) (holding tensor \(quotedName(tensor))) does not exist; download the missing shard"
        case .tensorMissingFromShard(let index, let tensor, let shard):
            return "\(index): tensor \(quotedName(tensor)) is mapped to shard \(quotedName(shard)), which does not contain it; the index and shards disagree, re-download them together"
        case .tensorNotInIndex(let index, let tensor, let shard):
            return "\(index): shard \(quotedName(shard)) contains tensor \(quotedName(tensor)), which the index does not map to it; the index and shards disagree, re-download them together"
        case .duplicateTensorAcrossShards(let folder, let tensor, let first, let second):
            return "\(folder): tensor \(quotedName(tensor)) is in both \(quotedName(first)) and \(quotedName(second)); remove the extra file or add a model.safetensors.index.json"
        }
    }
}

/// A name from a file, quoted for a one-line message the way every reader quotes names.
func quotedName(_ name: String) -> String {
    "'" + printableInMessage(name) + "'"
}
