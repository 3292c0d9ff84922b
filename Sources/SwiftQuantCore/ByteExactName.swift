/// A tensor name that compares and hashes by its UTF-8 bytes, for the readers' name indexes.
///
/// Swift's `String` equality is Unicode canonical equivalence: `"é"` (U+00E9) equals `"e"`
/// followed by U+0301. Python's safetensors, gguf-py and ggml compare names as bytes, so two
/// such names are two tensors there; keyed by `String`, a reader here would call them
/// duplicates and refuse a file the others accept. Every spec in `Specs/` says names are
/// compared as exact UTF-8 byte sequences, and every index of tensor names uses this key.
package struct ByteExactName: Hashable, Sendable {
    package let name: String

    package init(_ name: String) { self.name = name }

    package static func == (lhs: ByteExactName, rhs: ByteExactName) -> Bool {
        lhs.name.utf8.elementsEqual(rhs.name.utf8)
    }

    package func hash(into hasher: inout Hasher) {
        var copy = name
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(name.utf8.count)
    }
}

extension String {
    /// Whether the two strings are the same UTF-8 bytes (not merely canonically equivalent).
    package func hasSameBytes(as other: String) -> Bool { utf8.elementsEqual(other.utf8) }
}
