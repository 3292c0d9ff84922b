import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantSafeTensors
import SwiftQuantGGUF
import SwiftQuantCheckpoint
import SwiftQuantModelFolder

/// A checkpoint format SwiftQuant reads, as the registry knows it.
///
/// Inputs are recognised by content, never by name alone: a renamed file still opens. A
/// format adds itself with a recogniser over the file's first bytes and an opener.
public struct InputFormat: Sendable {
    /// What errors and `inspect` call the format (`safetensors`, `GGUF`, …).
    public var name: String
    /// Whether `bytes` (the whole file, memory-mapped) are this format.
    public var recognizes: @Sendable (UnsafeRawBufferPointer) -> Bool
    /// File-name suffixes opened as this format when no format recognises the bytes, so a
    /// damaged file gets this format's precise validation error instead of "unrecognised".
    public var fallbackSuffixes: [String]
    /// Opens the mapped file at `path`.
    public var open: @Sendable (_ file: MappedFile, _ path: String) throws -> any TensorSource
    /// For a format stored as a folder: whether the folder at the path is one (by the files in
    /// it), and how to open it. `nil` for single-file formats.
    public var folder: (recognizes: @Sendable (String) -> Bool, open: @Sendable (String) throws -> any TensorSource)?

    /// Describes an input format; see the properties for what each part does.
    public init(
        name: String, fallbackSuffixes: [String] = [],
        recognizes: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool,
        open: @escaping @Sendable (_ file: MappedFile, _ path: String) throws -> any TensorSource,
        folder: (recognizes: @Sendable (String) -> Bool, open: @Sendable (String) throws -> any TensorSource)? = nil
    ) {
        self.name = name
        self.recognizes = recognizes
        self.fallbackSuffixes = fallbackSuffixes
        self.open = open
        self.folder = folder
    }
}

/// What an output format needs to set up its writer.
public struct OutputRequest {
    /// The file (or folder) to create.
    public var destination: String
    /// Whether an existing destination may be replaced.
    public var force: Bool
    /// The input's path, as given: the output may not replace it, and formats that copy
    /// files from beside the input (config.json, …) find them from here.
    public var input: String
    /// The opened input.
    public var source: any TensorSource
    /// The conversion's options (compression level, GGUF architecture, …).
    public var options: ConversionOptions

    /// A request for `destination`.
    public init(destination: String, force: Bool, input: String, source: any TensorSource, options: ConversionOptions) {
        self.destination = destination
        self.force = force
        self.input = input
        self.source = source
        self.options = options
    }
}

/// A writer and its output, created but not yet complete: the conversion commits it after the
/// writer's `finish()`, or discards it on any error so no partial output is left.
public struct OutputTarget {
    public var writer: any TensorWriter
    /// Moves the finished output into place.
    public var commit: () throws -> Void
    /// Removes the unfinished output.
    public var discard: () -> Void

    /// A target with explicit commit and discard (a folder format builds its own).
    public init(writer: any TensorWriter, commit: @escaping () throws -> Void, discard: @escaping () -> Void) {
        self.writer = writer
        self.commit = commit
        self.discard = discard
    }

    /// A writer into one `AtomicOutputFile`, committed by renaming it into place.
    public init(writer: any TensorWriter, file: AtomicOutputFile) {
        self.init(writer: writer, commit: { try file.commit() }, discard: { file.discard() })
    }
}

/// An output format SwiftQuant writes, chosen by an explicit name or by the output's suffix.
public struct OutputFormat: Sendable {
    /// The name `--format` and reports use (`native`, `gguf`, `safetensors`).
    public var name: String
    /// Lowercased suffixes of outputs in this format (`.gguf`), matched case-insensitively.
    public var suffixes: [String]
    /// Creates the output and its writer. Checks that can fail on the arguments alone run
    /// before the output is created, so a refused conversion leaves nothing behind.
    public var makeTarget: @Sendable (OutputRequest) throws -> OutputTarget
    /// What the plan is for, resolved before planning (GGUF names its architecture, so the
    /// plan keeps what llama.cpp never quantizes); `PlanTarget.anyFormat` by default.
    public var planTarget: @Sendable (OutputRequest) throws -> PlanTarget
    /// The input as this format writes it, resolved before planning: for GGUF, a Hugging Face
    /// folder seen with GGUF tensor names and metadata (`HuggingFaceGGUFSource`), so rules and
    /// the plan see the names the file will hold; the request's source itself by default.
    public var view: @Sendable (OutputRequest) throws -> any TensorSource
    /// Whether the conversion's compression level applies (recorded as `swiftquant.compression`);
    /// `false` for formats that always store raw bytes, such as model folders.
    public var usesCompressionLevel: Bool

    /// Describes an output format; see the properties for what each part does.
    public init(
        name: String, suffixes: [String], usesCompressionLevel: Bool = true,
        view: @escaping @Sendable (OutputRequest) throws -> any TensorSource = { $0.source },
        planTarget: @escaping @Sendable (OutputRequest) throws -> PlanTarget = { _ in .anyFormat },
        makeTarget: @escaping @Sendable (OutputRequest) throws -> OutputTarget
    ) {
        self.name = name
        self.view = view
        self.suffixes = suffixes
        self.usesCompressionLevel = usesCompressionLevel
        self.planTarget = planTarget
        self.makeTarget = makeTarget
    }
}

/// The formats a conversion reads and writes: adding a format is one module plus one
/// ``register(_:)-(InputFormat)`` or ``register(_:)-(OutputFormat)`` call.
///
/// A value, not a global: a library user registers formats on their own copy of
/// ``standard`` and passes it to ``convert(input:output:options:registry:progress:planned:)``.
public struct FormatRegistry: Sendable {
    /// Tried in order; the first that recognises the bytes (or the folder) opens it.
    public private(set) var inputs: [InputFormat]
    /// Tried in order for a suffix; the first is the default for an output with no known suffix.
    public private(set) var outputs: [OutputFormat]

    /// An empty registry.
    public init(inputs: [InputFormat] = [], outputs: [OutputFormat] = []) {
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Adds an input format, tried before the ones already there: a format registered later
    /// is more specific (a model folder holding safetensors shards is claimed before the
    /// plain sharded-safetensors reader takes any folder).
    public mutating func register(_ format: InputFormat) { inputs.insert(format, at: 0) }

    /// Adds an output format, replacing one of the same name.
    public mutating func register(_ format: OutputFormat) {
        if let index = outputs.firstIndex(where: { $0.name == format.name }) {
            outputs[index] = format
        } else {
            outputs.append(format)
        }
    }

    /// The names of the output formats, in registration order.
    public var outputFormatNames: [String] { outputs.map(\.name) }

    /// The output format called `name`, or `nil`.
    public func outputFormat(named name: String) -> OutputFormat? {
        outputs.first { $0.name == name }
    }

    /// The format `name` if given, else the one with the longest suffix `path` ends with
    /// (compared case-insensitively), else the first registered (the native checkpoint).
    ///
    /// - Throws: ``FormatRegistryError/unknownOutputFormat(_:known:)`` for a name not registered.
    public func outputFormat(named name: String?, forPath path: String) throws -> OutputFormat {
        if let name {
            guard let format = outputFormat(named: name) else {
                throw FormatRegistryError.unknownOutputFormat(name, known: outputFormatNames)
            }
            return format
        }
        // The longest matching suffix wins, so `.i8.safetensors` can be a format of its own
        // beside `.safetensors`; among equal suffixes, the first registered.
        let lowered = path.lowercased()
        var best: (format: OutputFormat, length: Int)?
        for format in outputs {
            for suffix in format.suffixes where lowered.hasSuffix(suffix.lowercased()) && suffix.count > (best?.length ?? 0) {
                best = (format, suffix.count)
            }
        }
        if let best { return best.format }
        guard let first = outputs.first else { throw FormatRegistryError.unknownOutputFormat("", known: []) }
        return first
    }

    /// Opens any checkpoint a registered format reads (see ``openTensorSource(at:)``).
    public func openTensorSource(at path: String) throws -> any TensorSource {
        if isDirectory(path) {
            if let folder = inputs.lazy.compactMap(\.folder).first(where: { $0.recognizes(path) }) {
                return try folder.open(path)
            }
            // No folder format claims it: the sharded reader names what is missing.
            return try ShardedSafeTensors(path: path)
        }
        let file = try MappedFile(path: path)
        if let format = inputs.first(where: { $0.recognizes(file.bytes) }) {
            return try format.open(file, path)
        }
        if let format = inputs.first(where: { $0.fallbackSuffixes.contains { path.hasSuffix($0) } }) {
            return try format.open(file, path)
        }
        throw TensorSourceError.unrecognizedFormat(path: path)
    }

    /// The formats of this package: GGUF, the SwiftQuant checkpoint, safetensors (single and
    /// sharded); output native (`.swq`, the default), GGUF (Q8_0) and int8 safetensors.
    public static let standard = FormatRegistry(
        inputs: [
            InputFormat(name: "GGUF", fallbackSuffixes: [".gguf"],
                        recognizes: { TensorSourceFormat(recognizing: $0) == .gguf },
                        open: { file, _ in try GGUFFile(file: file) }),
            InputFormat(name: "SwiftQuant checkpoint",
                        recognizes: { TensorSourceFormat(recognizing: $0) == .swiftQuantCheckpoint },
                        open: { file, _ in try CheckpointFile(file: file) }),
            InputFormat(name: "safetensors", fallbackSuffixes: [".safetensors"],
                        recognizes: { TensorSourceFormat(recognizing: $0) == .safeTensors },
                        open: { file, _ in try SafeTensorsFile(file: file) }),
            InputFormat(name: "sharded safetensors",
                        recognizes: { TensorSourceFormat(recognizing: $0) == .shardedSafeTensorsIndex },
                        open: { _, path in try ShardedSafeTensors(path: path) },
                        folder: (recognizes: { _ in true }, open: { try ShardedSafeTensors(path: $0) })),
        ],
        outputs: [
            OutputFormat(name: "native", suffixes: [".swq"]) { request in
                let level = request.options.compressionLevel
                let file = try request.createFile()
                return OutputTarget(writer: CheckpointWriter(output: file, options: .init(compressionLevel: level)), file: file)
            },
            OutputFormat(name: "gguf", suffixes: [".gguf"], view: { request in
                try HuggingFaceGGUFSource.view(of: request.source, input: request.input, architecture: request.options.architecture)
            }, planTarget: { request in
                let options = try GGUFWriter.Options.resolve(
                    source: request.source, input: request.input, architecture: request.options.architecture)
                return .gguf(architecture: options.architecture)
            }) { request in
                // Resolved before the output exists: an unknown architecture leaves no file.
                let options = try GGUFWriter.Options.resolve(
                    source: request.source, input: request.input, architecture: request.options.architecture)
                let file = try request.createFile()
                return OutputTarget(writer: GGUFWriter(output: file, options: options), file: file)
            },
            OutputFormat(name: "safetensors", suffixes: [".safetensors"]) { request in
                let file = try request.createFile()
                return OutputTarget(writer: SafeTensorsWriter(output: file, layout: .int8), file: file)
            },
            // Model folders have no suffix: chosen by name only.
            OutputFormat(name: "compressed-tensors", suffixes: [], usesCompressionLevel: false) { request in
                try OutputTarget.modelFolder(.compressedTensors, request)
            },
            OutputFormat(name: "mlx", suffixes: [], usesCompressionLevel: false) { request in
                try OutputTarget.modelFolder(.mlx, request)
            },
        ])
}

extension OutputTarget {
    /// A model folder written into an ``AtomicOutputFolder``, renamed into place on commit.
    static func modelFolder(_ layout: ModelFolderLayout, _ request: OutputRequest) throws -> OutputTarget {
        let source = request.options.modelDirectory
            ?? (isDirectory(request.input) ? request.input : parentFolder(of: request.input))
        AtomicOutputFile.removeTemporaryFilesOnSignal()
        let folder = try AtomicOutputFolder(destination: request.destination, force: request.force, inputs: [request.input])
        let writer = ModelFolderWriter(
            output: folder, layout: layout,
            options: .init(sourceFolder: source, maxShardBytes: request.options.maxShardBytes))
        return OutputTarget(writer: writer, commit: { try folder.commit() }, discard: { folder.discard() })
    }
}

extension OutputRequest {
    /// The atomic output file for a single-file format, with temporary files removed if the
    /// process is interrupted.
    public func createFile() throws -> AtomicOutputFile {
        AtomicOutputFile.removeTemporaryFilesOnSignal()
        return try AtomicOutputFile(destination: destination, force: force, inputs: [input])
    }
}

/// A format the registry does not know.
public enum FormatRegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An output format name that no registered format has.
    case unknownOutputFormat(String, known: [String])

    public var description: String {
        switch self {
        case .unknownOutputFormat(let name, let known):
            "unknown output format '\(printableInMessage(name))'; known formats: \(known.joined(separator: ", "))"
        }
    }
}
