// Loads QuantizedLinear layers from a checkpoint the CLI wrote, through the public API only,
// runs them, and checks each output against x · Wᵀ computed here in Double from the weights
// the CLI dequantized (`swiftquant export --layout dequantized --dtype f32`): a second path to the same
// numbers that shares neither the loader nor the int8 kernels.
//
// With a third argument, a llama-style checkpoint converted from a Hugging Face folder, it also
// runs README's "Run a llama-family model" example through the public API and prints the prompt
// ids, the generated ids and the text as JSON, for run.sh to check against the tokenizers package.
//
//   consumer CHECKPOINT.swq DEQUANTIZED.safetensors [LLAMA.swq]
import Foundation
import SwiftQuant

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: consumer CHECKPOINT.swq DEQUANTIZED.safetensors [LLAMA.swq]\n".utf8))
    exit(2)
}

/// One layer: its first outputs, a checksum, and the worst error relative to the size of the
/// terms (Float32 accumulation keeps it near 1e-7·√k; a wrong element is far above 1e-5).
func check(_ name: String, checkpoint: CheckpointFile, reference: any TensorSource) throws -> Bool {
    let layer = try checkpoint.quantizedLinear(name)
    let tokens = 3
    let input = (0..<tokens * layer.inFeatures).map { Float(sin(Double($0) * 0.37)) }
    let x = try FloatTensor(shape: [tokens, layer.inFeatures], storage: input)
    let y = try layer(x)

    let weight = try reference.floats(for: name + ".weight")
    var worst = 0.0
    for t in 0..<tokens {
        for o in 0..<layer.outFeatures {
            var sum = 0.0, magnitude = 0.0
            for k in 0..<layer.inFeatures {
                let term = Double(input[t * layer.inFeatures + k]) * Double(weight[o * layer.inFeatures + k])
                sum += term
                magnitude += abs(term)
            }
            let error = abs(Double(y.storage[t * layer.outFeatures + o]) - sum) / max(magnitude, 1e-30)
            worst = max(worst, error)
        }
    }
    let first = y.storage.prefix(4).map { String(format: "%.6f", $0) }.joined(separator: " ")
    let checksum = y.storage.reduce(0.0) { $0 + Double($1) }
    let ok = y.shape == [tokens, layer.outFeatures] && worst < 1e-5
    print("consumer: \(name) [\(layer.outFeatures), \(layer.inFeatures)] y[0..4] = \(first) sum = \(String(format: "%.6f", checksum)) worst relative error \(String(format: "%.2e", worst)) \(ok ? "ok" : "MISMATCH")")
    return ok
}

do {
    let checkpoint = try CheckpointFile(path: arguments[1])
    let reference = try openTensorSource(at: arguments[2])
    var allOK = true
    for name in ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"] {
        allOK = try check(name, checkpoint: checkpoint, reference: reference) && allOK
    }
    if arguments.count == 4 {
        // README's example, as written there.
        let files = try LlamaModelFiles(path: arguments[3])
        let tokenizer = try loadTokenizer(json: files.tokenizerJSON!)
        let result = try files.model.generate(
            prompt: tokenizer.encode("Once upon a time"), maxTokens: 32,
            sampling: SamplingParameters(temperature: 0), stopTokens: files.stopTokens) { _ in true }
        print(tokenizer.decode(result.tokens))
        struct Generated: Encodable { var prompt: [Int32]; var tokens: [Int32]; var text: String }
        let line = try JSONEncoder().encode(Generated(
            prompt: result.promptTokens, tokens: result.tokens, text: tokenizer.decode(result.tokens)))
        print("consumer-generate: " + String(decoding: line, as: UTF8.self))
    }
    exit(allOK ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("consumer: error: \(error)\n".utf8))
    exit(1)
}
