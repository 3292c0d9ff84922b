// Re-exported for every file of this test target: the model paths, temporary folders, CLI
// runner, tags and fixtures shared by all test targets live in SwiftQuantTestSupport, and one
// import here keeps each test file's own imports as they were.
@_exported import SwiftQuantTestSupport
