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
        let bar = ProgressBar(enabled: !quiet)
        do {
            try SwiftQuant.export(
                checkpoint: checkpoint, output: output, layout: layout == .int8 ? .int8 : .dequantized,
                dtype: dtype?.dtype, force: force
            ) { progress in
                bar.update(
                    tensorsDone: progress.tensorsDone, tensorCount: progress.tensorCount,
                    bytesDone: progress.bytesDone, totalBytes: progress.totalBytes)
            }
            bar.finish()
        } catch {
            bar.finish()
            throw error
        }
    }
}
