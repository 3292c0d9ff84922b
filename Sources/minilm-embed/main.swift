import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftQuant

/// `minilm-embed`: sentence embeddings from all-MiniLM-L6-v2, fp32 or from an INT8 checkpoint.
struct MiniLMEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "minilm-embed",
        abstract: "Embed sentences with all-MiniLM-L6-v2: fp32 from model.safetensors, or INT8 from a SwiftQuant checkpoint.",
        discussion: """
            Without --checkpoint the Float32 weights of MODEL/model.safetensors are used. With \
            --checkpoint every quantized linear layer runs as a QuantizedLinear loaded from the \
            converted checkpoint (swiftquant convert MODEL/model.safetensors -o FILE). \
            --int8-activations also quantizes each layer's input rows to int8 (W8A8). --compare \
            prints, per sentence, the cosine between the fp32 and the INT8 embedding; without \
            --checkpoint it quantizes the fp32 weights in memory, per channel.
            """)

    @Option(name: .long, help: ArgumentHelp("The model folder (config.json, vocab.txt, model.safetensors).", valueName: "dir"))
    var model: String

    @Option(name: .long, help: ArgumentHelp("A SwiftQuant checkpoint converted from the model's weights.", valueName: "file"))
    var checkpoint: String?

    @Flag(name: .long, help: "Quantize the activations of every INT8 layer to int8 on the fly (W8A8: faster, slightly less exact).")
    var int8Activations = false

    @Option(name: .long, help: ArgumentHelp("With --int8-activations: input columns per activation scale, a multiple of 4, or 0 for one scale per row.", valueName: "n"))
    var activationGroupSize = BertEncoder.defaultActivationGroupSize

    @Flag(name: .long, help: "Print {\"embeddings\": [[…], …]} (with --compare: {\"cosine\": […]}).")
    package var json = false

    @Flag(name: .long, help: "Print the cosine between the fp32 and the INT8 embedding of each sentence.")
    var compare = false

    @Flag(name: .long, help: "Print the token ids instead of embeddings, as {\"tokens\": [[…], …]}.")
    var tokens = false

    @Argument(help: "The sentences to embed.")
    var sentences: [String]

    func validate() throws {
        if sentences.isEmpty { throw ValidationError("give at least one sentence to embed") }
        if activationGroupSize < 0 || activationGroupSize % 4 != 0 {
            throw ValidationError("--activation-group-size must be 0 or a positive multiple of 4, not \(activationGroupSize)")
        }
    }

    /// The group size `withActivationQuantization` takes: `nil` for one scale per row.
    var groupSize: Int? { activationGroupSize == 0 ? nil : activationGroupSize }

    package func run() throws {
        if tokens {
            let tokenizer = try SentenceEncoder.tokenizer(modelDirectory: model)
            let rows = sentences.map { tokenizer($0).map(String.init).joined(separator: ", ") }
            print("{\"tokens\": [" + rows.map { "[" + $0 + "]" }.joined(separator: ", ") + "]}")
            return
        }
        if compare {
            let float = try SentenceEncoder(modelDirectory: model)
            var int8: SentenceEncoder
            if let checkpoint {
                int8 = try SentenceEncoder(modelDirectory: model, checkpoint: checkpoint)
            } else {
                int8 = SentenceEncoder(tokenizer: float.tokenizer, encoder: try float.encoder.quantized())
            }
            if int8Activations { int8 = SentenceEncoder(tokenizer: int8.tokenizer, encoder: try int8.encoder.withActivationQuantization(groupSize: groupSize)) }
            var cosines: [Double] = []
            for sentence in sentences {
                cosines.append(cosineSimilarity(try float.embed(sentence), try int8.embed(sentence)))
            }
            if json {
                print("{\"cosine\": [" + cosines.map { String($0) }.joined(separator: ", ") + "]}")
            } else {
                for (sentence, cosine) in zip(sentences, cosines) {
                    print(String(format: "%.6f", cosine) + "\t" + sentence)
                }
            }
            return
        }
        var encoder = try SentenceEncoder(modelDirectory: model, checkpoint: checkpoint)
        if int8Activations {
            // Without a checkpoint the fp32 weights are quantized per channel in memory first.
            let int8 = checkpoint == nil ? try encoder.encoder.quantized() : encoder.encoder
            encoder = SentenceEncoder(tokenizer: encoder.tokenizer, encoder: try int8.withActivationQuantization(groupSize: groupSize))
        }
        if json {
            // Streamed row by row: a long list of sentences never builds one huge string.
            print("{\"embeddings\": [", terminator: "")
            for (index, sentence) in sentences.enumerated() {
                let vector = try encoder.embed(sentence)
                print((index > 0 ? ", [" : "[") + vector.map { "\($0)" }.joined(separator: ", ") + "]", terminator: "")
            }
            print("]}")
        } else {
            for sentence in sentences {
                let vector = try encoder.embed(sentence)
                let head = vector.prefix(6).map { String(format: "%+.4f", $0) }.joined(separator: " ")
                print("\(head) … (\(vector.count) values, \(encoder.tokenIDs(sentence).count) tokens)\t\(sentence)")
            }
        }
    }
}

/// Writes `minilm-embed: error: <first line>` to stderr and exits with status 1.
func fail(_ message: String) -> Never {
    let line = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? "failed"
    FileHandle.standardError.write(Data("minilm-embed: error: \(line)\n".utf8))
    exit(1)
}

// Every failure is one line on stderr and exit status 1; help goes to stdout with status 0.
let command: MiniLMEmbed
do {
    command = try MiniLMEmbed.parse()
} catch {
    if MiniLMEmbed.exitCode(for: error) == .success { MiniLMEmbed.exit(withError: error) }
    fail(MiniLMEmbed.message(for: error))
}
do {
    try command.run()
} catch MiniLMError.cannotRead(let path, let what) {
    // The library says what to do in words; the flag that does it is ours to name.
    fail("\(MiniLMError.cannotRead(path: path, what: what)) (--model)")
} catch {
    fail("\(error)")
}
