import Testing

extension Tag {
    /// Suites that take tens of seconds (the malformed-input corpus, the GGUF writer on MiniLM,
    /// the safetensors mutation sweep). `swift test --skip tag:slow` runs everything else.
    @Tag public static var slow: Self
}
