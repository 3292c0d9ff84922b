import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant export`: a SwiftQuant checkpoint as a safetensors file any tool loads.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a SwiftQuant checkpoint as safetensors: INT8 with NAME_scale tensors, or dequantized floats.",
        discussion: """
            --layout int8 writes each quantized tensor NAME as I8 in its shape plus NAME_scale as \
            F32: [1] per tensor, [rows, 1] per channel, [rows, columns/group] per group \
            (compressed-tensors' convention). --layout dequantized writes q × scale as floats, in \
            --dtype or else the source tensor's dtype. Kept tensors are written unchanged.
            """)

    enum Layout: String, ExpressibleByArgument, CaseIterable {
        case int8, dequantized
    }

    enum FloatType: String, ExpressibleByArgument, CaseIterable {
        case f32, f16, bf16

        var dtype: DType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
        }
    }

    @Argument(help: "A SwiftQuant checkpoint (.swq).")
    var checkpoint: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The .safetensors file to write.", valueName: "path"))
    var output: String

    @Option(help: "int8 or dequantized.")
    var layout: Layout

    @Option(help: "Float type of dequantized tensors: f32, f16 or bf16 (default: each tensor's source dtype).")
    var dtype: FloatType?

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if dtype != nil && layout == .int8 {
            throw ValidationError("--dtype applies to --layout dequantized only; int8 tensors are written as I8 with F32 scales")
        }
    }

    package func run() throws {
        let file = try CheckpointFile(path: checkpoint)
        AtomicOutputFile.removeTemporaryFilesOnSignal()
        let destination = try AtomicOutputFile(destination: output, force: force, inputs: [checkpoint])
        let sink = SafeTensorsWriter(
            output: destination, layout: layout == .int8 ? .int8 : .dequantized(dtype?.dtype))
        var metadata = file.metadata
        metadata["swiftquant.layout"] = .string(layout.rawValue)
        let bar = ProgressBar(enabled: !quiet)
        do {
            try sink.begin(tensors: file.tensors, metadata: metadata)
            let totalBytes = file.tensors.reduce(0) { $0 + $1.byteCount }
            var doneBytes = 0
            for (index, entry) in file.entries.enumerated() {
                try write(entry, from: file, to: sink)
                file.releasePages(for: entry.name)
                doneBytes += entry.values.rawLength
                bar.update(tensorsDone: index + 1, tensorCount: file.entries.count, bytesDone: doneBytes, totalBytes: totalBytes)
            }
            try sink.finish()
            bar.finish()
            try destination.commit()
        } catch {
            bar.finish()
            destination.discard()
            throw error
        }
    }

    private func write(_ entry: CheckpointEntry, from file: CheckpointFile, to sink: SafeTensorsWriter) throws {
        guard entry.quantization != nil else {
            let data = try file.data(for: entry.name)
            try withExtendedLifetime(data) {
                try sink.write(ConvertedTensor(
                    name: entry.name, shape: entry.shape, sourceDType: entry.sourceDType,
                    content: .kept(dtype: entry.dtype, bytes: data.bytes)))
            }
            return
        }
        guard let weight = try file.quantizedWeight(for: entry.name) else { return }
        try sink.write(ConvertedTensor(
            name: entry.name, shape: entry.shape, sourceDType: entry.sourceDType,
            content: .quantized(weight, metrics: entry.metrics)))
    }
}
