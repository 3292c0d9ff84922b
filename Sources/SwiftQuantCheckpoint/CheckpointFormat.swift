import CXXHash
import SwiftQuantCore
import SwiftQuantKernels

/// The constants of the SwiftQuant checkpoint format (`Specs/swiftquant-checkpoint.md`),
/// shared by ``CheckpointFile`` and the writer so that both agree byte for byte.
public enum CheckpointFormat {
    /// The first 8 bytes of every checkpoint: `89 53 57 51 0D 0A 1A 0A` (`\x89SWQ\r\n\x1a\n`).
    /// Like PNG's signature, the high byte and the line endings catch text-mode transfers.
    public static let magic: [UInt8] = [0x89, 0x53, 0x57, 0x51, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Readers refuse any other major version: a major bump marks an incompatible change.
    public static let majorVersion: UInt16 = 1
    /// Minor versions only add things readers of the same major version may ignore.
    public static let minorVersion: UInt16 = 0
    /// Bytes of the fixed preamble before the header.
    public static let preambleSize = 64
    /// The data alignment the writer uses; readers accept any power of two in `minimumAlignment...maximumAlignment`.
    public static let defaultAlignment = 64
    public static let minimumAlignment = 64
    public static let maximumAlignment = 1 << 20
    /// Raw bytes per compressed chunk: small enough for both cores to share a tensor and to
    /// read one tensor alone, large enough that zstd's ratio does not suffer.
    public static let defaultChunkSize = 1 << 20
    public static let maximumChunkSize = 1 << 30
    /// The largest tensor rank a checkpoint may hold.
    public static let maximumRank = 8
    /// Metadata arrays nest at most this deep.
    public static let maximumNesting = 16
    /// The file extension of the native format.
    public static let fileExtension = "swq"

    /// Whether `bytes` starts with the checkpoint magic.
    public static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= magic.count && zip(bytes.prefix(magic.count), magic).allSatisfy { $0 == $1 }
    }
}

/// How a segment's bytes are stored.
public enum CheckpointCodec: UInt8, Sendable, Hashable, CaseIterable {
    /// Stored as is: readable straight from the memory map.
    case raw = 0
    /// Independent zstd frames, one per chunk.
    case zstd = 1
    /// Each chunk's values split into byte planes (all first bytes, then all second bytes, …),
    /// then one zstd frame per chunk: float exponents compress far better grouped.
    case zstdPlanes = 2

    /// The name `inspect` shows and the spec uses.
    public var name: String {
        switch self {
        case .raw: "raw"
        case .zstd: "zstd"
        case .zstdPlanes: "zstd-planes"
        }
    }
}

/// The type tag of a metadata value in the header.
enum CheckpointValueType: UInt8 {
    case string = 0, int = 1, uint = 2, float = 3, bool = 4, array = 5
}

/// The quantization tag of a directory entry.
enum CheckpointQuantizationCode: UInt8 {
    case none = 0, perTensor = 1, perChannel = 2, perGroup = 3
}

/// XXH3-64 with seed 0: the checksum of every chunk and of the header.
public func checkpointChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    XXH3_64bits(bytes.baseAddress, bytes.count)
}
