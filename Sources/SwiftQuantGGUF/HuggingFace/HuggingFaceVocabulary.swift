import Foundation
import SwiftQuantCore

/// The `tokenizer.*` entries llama.cpp's converter writes from a Hugging Face folder's
/// tokenizer files.
enum HuggingFaceVocabulary {
    /// The converter's vocabulary paths, tried in the order an architecture gives.
    enum Kind: Sendable {
        /// `tokenizer.model` (SentencePiece protobuf): `_set_vocab_sentencepiece`, model "llama".
        case sentencePiece
        /// SentencePiece-style BPE in `tokenizer.json` (byte fallback): `_set_vocab_llama_hf`, model "llama".
        case llamaHF
        /// Byte-level BPE in `tokenizer.json`: `_set_vocab_gpt2`, model "gpt2" with merges and `pre`.
        case byteLevelBPE
    }

    static func entries(of folder: HuggingFaceFolder, order: [Kind], spacePrefixFromConfig: Bool) throws -> [GGUFMetadataEntry] {
        throw HuggingFaceGGUFError.missingTokenizer(folder: folder.path, expected: "not implemented yet")
    }
}
