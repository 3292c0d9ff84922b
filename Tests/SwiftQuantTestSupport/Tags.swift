import Testing

extension Tag {
    /// Suites that take tens of seconds: MalformedInputCorpusTests, GGUFWriterTests,
    /// SafeTensorsMutationTests. Swift 6.3's `swift test` does not filter by tag (IDEs and test
    /// plans do), so README's fast subset names them:
    /// `swift test --skip 'MalformedInputCorpusTests|GGUFWriterTests|SafeTensorsMutationTests'`;
    /// a suite that gets this tag belongs in that pattern too.
    @Tag public static var slow: Self
}
