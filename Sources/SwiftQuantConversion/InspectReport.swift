import SwiftQuantCore

/// A metadata value as JSON: typed values as JSON numbers, booleans and arrays; non-finite
/// floats as `null`.
public struct ReportMetadataValue: Encodable, Sendable, Hashable {
    public var value: MetadataValue

    public init(_ value: MetadataValue) { self.value = value }

    public func encode(to encoder: any Encoder) throws {
        switch value {
        case .string(let string):
            var container = encoder.singleValueContainer()
            try container.encode(string)
        case .int(let int):
            var container = encoder.singleValueContainer()
            try container.encode(int)
        case .uint(let uint):
            var container = encoder.singleValueContainer()
            try container.encode(uint)
        case .float(let double):
            var container = encoder.singleValueContainer()
            if double.isFinite { try container.encode(double) } else { try container.encodeNil() }
        case .bool(let bool):
            var container = encoder.singleValueContainer()
            try container.encode(bool)
        case .array(let values):
            var container = encoder.unkeyedContainer()
            for element in values { try container.encode(ReportMetadataValue(element)) }
        }
    }
}

/// A checkpoint's tensors and metadata, as `swiftquant inspect --json` prints them.
public struct InspectReport: Encodable, Sendable {
    /// One tensor: name, dtype, shape and bytes; for a SwiftQuant checkpoint also the
    /// quantization, codec and stored size.
    public struct Tensor: Encodable, Sendable, Hashable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var bytes: Int
        public var storage: StorageDetails?

        enum CodingKeys: String, CodingKey { case name, dtype, shape, bytes, quantization, codec, storedBytes = "stored_bytes" }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(dtype, forKey: .dtype)
            try container.encode(shape, forKey: .shape)
            try container.encode(bytes, forKey: .bytes)
            if let storage {
                try container.encode(storage.quantization?.description, forKey: .quantization)
                try container.encode(storage.codec, forKey: .codec)
                try container.encode(storage.storedByteCount, forKey: .storedBytes)
            }
        }
    }

    /// The format's name (`safetensors`, `GGUF`, …).
    public var format: String
    public var tensors: [Tensor]
    public var metadata: [String: ReportMetadataValue]

    /// The report for an opened source; reads headers only.
    public init(_ source: any TensorSource) {
        format = source.formatName
        tensors = source.tensors.map {
            Tensor(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: $0.byteCount, storage: $0.storage)
        }
        metadata = source.metadata.mapValues(ReportMetadataValue.init)
    }
}
