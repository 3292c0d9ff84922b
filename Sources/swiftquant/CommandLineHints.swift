import SwiftQuant
import SwiftQuantBench

/// The options that fix a library error, appended when the command line renders it: library
/// messages say what to do in words (they are also read by library users, who have no flags),
/// and only the command line knows which flag does it.
func commandLineHint(for error: Error) -> String? {
    switch error {
    case OutputFileError.exists, OutputFolderError.exists:
        return "--force"
    case ModelFolderError.notALinearWeight(let tensor, _, _):
        return "--skip '\(printableInMessage(tensor))'"
    case ModelFolderError.mlxNeedsGroups(let tensor, _, _):
        return "--granularity per-group --group-size 32|64|128, or --skip '\(printableInMessage(tensor))'"
    case ModelFolderError.missingConfig:
        return "--model-dir DIR"
    case ConversionError.nonFiniteWeight(_, let tensor, _, _):
        return "--skip '\(printableInMessage(tensor))'"
    case SafeTensorsWriterError.scaleNameTaken:
        return "--layout dequantized or --format native"
    case GGUFWriterError.tensorNameTooLong, GGUFWriterError.tooManyDimensions, GGUFWriterError.unsupportedDType:
        return "--format native or --format safetensors"
    case GGUFWriterError.unknownArchitecture:
        return "--arch NAME, e.g. --arch llama"
    case GGUFWriterError.invalidArchitecture, GGUFWriterError.unreadableConfig:
        return "--arch NAME"
    case HuggingFaceGGUFError.unsupportedArchitecture, HuggingFaceGGUFError.noArchitecture:
        return "--arch NAME keeps the Hugging Face tensor names"
    case BenchError.modelMissing:
        return "--models FOLDER"
    case FormatRegistryError.unknownOutputFormat:
        return "--format " + FormatRegistry.standard.outputFormatNames.joined(separator: "|")
    default:
        return nil
    }
}

/// `message` with the hint for `error`, if any, in parentheses at the end.
func withCommandLineHint(_ message: String, for error: Error) -> String {
    guard let hint = commandLineHint(for: error) else { return message }
    return "\(message) (\(hint))"
}
