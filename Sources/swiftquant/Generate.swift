import ArgumentParser
import Foundation
import SwiftQuant

/// `swiftquant generate`: runs a llama-family model on a prompt and prints what it generates.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate tokens with a llama-family model (llama, mistral, qwen2).",
        discussion: """
            MODEL is a Hugging Face folder (config.json, safetensors, tokenizer.json), a SwiftQuant \
            checkpoint converted from one (it carries those files in its metadata), or a GGUF file. \
            Text is printed as it is produced, then prompt and decode speeds (tokens per second, \
            wall clock) on stderr. --temperature 0 (the default) is greedy.
            """)

    @Argument(help: ArgumentHelp("A model folder, a .swq checkpoint or a GGUF file.", valueName: "model"))
    var model: String

    @Option(help: ArgumentHelp("The prompt text (needs the model's tokenizer).", valueName: "text"))
    var prompt: String?

    @Option(name: .customLong("prompt-ids"), help: ArgumentHelp("The prompt as comma-separated token ids, instead of --prompt.", valueName: "ids"))
    var promptIDs: String?

    @Option(name: .customLong("max-tokens"), help: ArgumentHelp("Tokens to generate at most (default 128).", valueName: "n"))
    var maxTokens = 128

    @Option(help: ArgumentHelp("Sampling temperature; 0 is greedy (default 0).", valueName: "t"))
    var temperature: Float = 0

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Sample among the k most likely tokens; 0 is off.", valueName: "k"))
    var topK = 0

    @Option(name: .customLong("top-p"), help: ArgumentHelp("Sample among the most likely tokens holding probability p; 1 is off.", valueName: "p"))
    var topP: Float = 1

    @Option(help: ArgumentHelp("Seed of the sampler (default 0).", valueName: "s"))
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Worker threads (default: all cores).", valueName: "n"))
    var threads: Int?

    @Flag(name: .customLong("ignore-eos"), help: "Do not stop at the model's end-of-sequence tokens.")
    var ignoreEOS = false

    @Flag(name: .customLong("int8-activations"), help: "Also quantize each INT8 layer's input rows to int8 on the fly (W8A8: faster, less exact).")
    var int8Activations = false

    @Flag(help: "Print one JSON object: prompt_tokens, tokens, text, prompt_tokens_per_second, decode_tokens_per_second.")
    var json = false

    @Option(name: .customLong("dump-logits"), help: ArgumentHelp(
        "Also write the logits as raw little-endian Float32 to this file: every prompt row, then one row per decode step (for checks against other implementations).",
        valueName: "path"))
    var dumpLogits: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads \(threads) is invalid; use 1 or more") }
        if maxTokens < 0 { throw ValidationError("--max-tokens \(maxTokens) is invalid; use 0 or more") }
        if (prompt == nil) == (promptIDs == nil) { throw ValidationError("give exactly one of --prompt and --prompt-ids") }
    }

    func run() throws {
        try Parallelism.withThreads(threads) { try generate() }
    }

    private func generate() throws {
        var files = try LlamaModelFiles(path: model)
        if int8Activations { files.model = try files.model.withActivationQuantization() }
        var tokenizer: (any Tokenizer)? = nil
        do {
            tokenizer = try files.tokenizer(path: model)
        } catch {
            guard promptIDs != nil else { throw error }
            // Ids need no tokenizer: run without one, printing generated ids as numbers.
            printToStandardError("swiftquant: warning: \(error); generated tokens are printed as ids")
        }
        let promptTokens: [Int32]
        if let promptIDs {
            var ids: [Int32] = []
            for part in promptIDs.split(separator: ",") {
                guard let id = Int32(part.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--prompt-ids: '\(part)' is not a token id; give comma-separated integers")
                }
                ids.append(id)
            }
            promptTokens = ids
        } else if let prompt, let tokenizer {
            promptTokens = tokenizer.encode(prompt, addSpecialTokens: true)
        } else {
            throw ValidationError("\(model) has no tokenizer (tokenizer.json or GGUF tokenizer keys), so --prompt cannot be tokenized; give the prompt as --prompt-ids")
        }
        let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
        let stop = ignoreEOS ? [] : files.stopTokens
        // Text is printed as whole UTF-8 characters: a character split across tokens waits for its end.
        var detokenizer = tokenizer.map { StreamingDetokenizer(tokenizer: $0) }
        var text = ""
        let result = try files.model.generate(prompt: promptTokens, maxTokens: maxTokens, sampling: sampling, stopTokens: stop) { token in
            let piece = detokenizer?.append(token) ?? "\(token) "
            text += piece
            if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
            return true
        }
        if let tail = detokenizer?.finish() {
            text += tail
            if !json { FileHandle.standardOutput.write(Data(tail.utf8)) }
        }
        if detokenizer == nil { text = result.tokens.map(String.init).joined(separator: " ") }
        if let dumpLogits { try writeLogits(files.model, result, to: dumpLogits) }
        if json {
            let report = GenerationReport(
                promptTokens: result.promptTokens, tokens: result.tokens, text: text,
                promptTokensPerSecond: result.promptTokensPerSecond.isFinite ? result.promptTokensPerSecond : nil,
                decodeTokensPerSecond: result.decodeTokensPerSecond.isFinite ? result.decodeTokensPerSecond : nil)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(report) + Data("\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data("\n".utf8))
            printToStandardError(String(
                format: "prompt: %d tokens, %.1f tokens/s; decode: %d tokens, %.1f tokens/s",
                result.promptTokens.count, result.promptTokensPerSecond, result.tokens.count, result.decodeTokensPerSecond))
        }
    }

    /// Replays the run through the cache: the prompt pass with every row's logits, then one
    /// batch-1 step per generated token but the last.
    private func writeLogits(_ model: LlamaModel, _ result: GenerationResult, to path: String) throws {
        var cache = model.makeCache()
        var rows = try model.forward(result.promptTokens, cache: &cache, allLogits: true).storage
        for token in result.tokens.dropLast() {
            rows += try model.forward([token], cache: &cache).storage
        }
        let data = rows.withUnsafeBufferPointer { Data(buffer: $0) }
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// A speed as a JSON number (two decimals; 0 when there was nothing to time).
/// What `generate --json` prints: one object, nothing else on standard output.
private struct GenerationReport: Encodable {
    var promptTokens: [Int32]
    var tokens: [Int32]
    /// The generated text only, without the prompt.
    var text: String
    /// Wall-clock rates; `null` when a phase took no measurable time.
    var promptTokensPerSecond: Double?
    var decodeTokensPerSecond: Double?

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", tokens, text
        case promptTokensPerSecond = "prompt_tokens_per_second", decodeTokensPerSecond = "decode_tokens_per_second"
    }

    // Every key is always present: a missing rate is written as null, not left out.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(promptTokens, forKey: .promptTokens)
        try container.encode(tokens, forKey: .tokens)
        try container.encode(text, forKey: .text)
        try container.encode(promptTokensPerSecond, forKey: .promptTokensPerSecond)
        try container.encode(decodeTokensPerSecond, forKey: .decodeTokensPerSecond)
    }
}
