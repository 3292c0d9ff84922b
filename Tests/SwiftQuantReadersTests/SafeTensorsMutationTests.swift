import Foundation
import Testing
import SwiftQuant

/// Damaged copies of a valid file: every one must open cleanly or fail with a
/// `SafeTensorsError`, never trap, and the survivors must still be internally consistent.
@Suite("SafeTensors damaged files", .tags(.slow))
struct SafeTensorsMutationTests {
    typealias Entry = SafeTensorsFixture.Entry

    /// A small valid file with metadata, several dtypes, a scalar and an empty tensor.
    private let original: [UInt8] = {
        let header = SafeTensorsFixture.header([
            Entry("w", "F16", [2, 3], 0, 12), Entry("s", "F32", [], 12, 16),
            Entry("e", "I64", [0], 16, 16), Entry("f", "F4", [4], 16, 18),
        ], metadata: [("format", "pt")])
        return SafeTensorsFixture.bytes(header: header, data: (0..<18).map { UInt8($0 * 7 & 0xFF) })
    }()

    /// Opens `bytes` from `path`; returns whether it opened, recording an issue for any
    /// error that is not a one-line `SafeTensorsError`.
    private func open(_ bytes: [UInt8], at path: String) throws -> Bool {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            let file = try SafeTensorsFile(path: path)
            // Whatever was accepted must be readable within the file's bounds.
            var total = 0
            for info in file.tensors {
                let data = try file.data(for: info.name)
                #expect(data.bytes.count == info.byteCount)
                total += info.byteCount
            }
            #expect(8 + file.headerLength + total == bytes.count)
            return true
        } catch let error as SafeTensorsError {
            #expect(!error.description.contains("\n"))
            return false
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)")
            return false
        }
    }

    @Test("Every truncation is rejected")
    func truncations() throws {
        let path = try SafeTensorsFixture.makeFolder() + "/cut.safetensors"
        #expect(try open(original, at: path))
        for length in 0..<original.count {
            #expect(try !open(Array(original[..<length]), at: path), "truncated to \(length) bytes")
        }
    }

    @Test("Every single-byte change opens cleanly or fails with a SafeTensorsError")
    func byteChanges() throws {
        let path = try SafeTensorsFixture.makeFolder() + "/flip.safetensors"
        var rejected = 0
        for position in 0..<original.count {
            for value: UInt8 in [0x00, 0x22, 0x2C, 0x30, 0x39, 0x5B, 0x7B, 0x7D, 0xFF, original[position] ^ 0x01] {
                var bytes = original
                bytes[position] = value
                if try !open(bytes, at: path) { rejected += 1 }
            }
        }
        // Damage to the header is almost always caught; damage to the data never is.
        #expect(rejected > 0)
    }
}
