import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan

/// Everything a conversion can be told, besides its input and output.
public struct ConversionOptions: Sendable {
    /// The rules that decide each tensor (built-in defaults unless told otherwise).
    public var rules: RulesConfig
    /// The output format's registered name (`native`, `gguf`, `safetensors`, …); `nil` picks it
    /// from the output's suffix, else the native checkpoint.
    public var format: String?
    /// zstd level 1…19 for the native checkpoint, or `nil` to store tensors uncompressed.
    public var compressionLevel: Int32?
    /// `general.architecture` for GGUF output; `nil` takes a GGUF input's own, else
    /// `model_type` from the `config.json` beside the input.
    public var architecture: String?
    /// The arithmetic symmetric INT8 quantizes and measures with (see `Arithmetic`).
    public var arithmetic: Arithmetic
    /// Whether an existing output may be replaced.
    public var force: Bool
    /// The tool recorded in `general.tool` (`swiftquant 0.1.0`).
    public var toolVersion: String
    /// The largest weights file of a model folder (transformers' default, 5 GB).
    public var maxShardBytes: Int
    /// The folder whose config.json and tokenizer files go into a model folder; `nil` takes
    /// the input if it is a folder, else the folder the input is in.
    public var modelDirectory: String?
    /// Source bytes per slice of a tensor quantized or re-encoded slice by slice (see
    /// `Converter.sliceBytes`): bounds memory, never changes the output.
    public var sliceBytes: Int = Converter.defaultSliceBytes

    /// Options with the command line's defaults: built-in rules, format from the suffix, zstd
    /// level 1, Float32 arithmetic, no overwriting.
    public init(
        rules: RulesConfig = RulesConfig(), format: String? = nil, compressionLevel: Int32? = 1,
        architecture: String? = nil, arithmetic: Arithmetic = .float32, force: Bool = false,
        toolVersion: String = swiftQuantVersion, maxShardBytes: Int = 5_000_000_000, modelDirectory: String? = nil
    ) {
        self.maxShardBytes = maxShardBytes
        self.modelDirectory = modelDirectory
        self.rules = rules
        self.format = format
        self.compressionLevel = compressionLevel
        self.architecture = architecture
        self.arithmetic = arithmetic
        self.force = force
        self.toolVersion = toolVersion
    }
}

/// The version of this package, as outputs record it.
public let swiftQuantVersion = "0.1.0"
