// swift-tools-version: 6.0
import PackageDescription

// Data flows one way:
//   SwiftQuantCore (dtypes, TensorSource, buffers, mmap, JSON, atomic output)
//   → SwiftQuantKernels (float decoding, quantization schemes, error metrics; their hot loops in
//     CSwiftQuantKernels, dispatched like the products below)
//   → one module per file format, each owning both directions:
//       SwiftQuantSafeTensors, SwiftQuantGGUF, SwiftQuantCheckpoint (zstd + xxhash)
//       and SwiftQuantModelFolder (model folders for transformers / MLX, over SafeTensors)
//   → SwiftQuantPlan (rules decide each tensor; Yams)
//   → SwiftQuantConversion (format registry, converter, export, verify, reports)
// and, for inference, with no file-format dependency:
//   SwiftQuantCore → SwiftQuantKernels → SwiftQuantNN (Linear, QuantizedLinear, blocks)
//     with CSwiftQuantKernels underneath: the matrix-product micro-kernels in C, one copy per
//     instruction set (per-function target attributes, no build flags), chosen at run time

//   → SwiftQuantModels (BERT / MiniLM)
// SwiftQuant re-exports all of them: one `import SwiftQuant`.
let package = Package(
    name: "SwiftQuant",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SwiftQuant", targets: ["SwiftQuant"]),
        .library(name: "SwiftQuantInference", targets: [
            "SwiftQuantCore", "SwiftQuantKernels", "SwiftQuantNN", "SwiftQuantModels",
            "SwiftQuantSafeTensors", "SwiftQuantGGUF", "SwiftQuantCheckpoint", "SwiftQuantModelFolder",
        ]),
        .executable(name: "swiftquant", targets: ["swiftquant"]),
        .executable(name: "minilm-embed", targets: ["minilm-embed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(
            name: "CXXHash", pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"]), .brew(["xxhash"])]),

        .target(name: "SwiftQuantCore"),
        .target(name: "SwiftQuantKernels", dependencies: ["SwiftQuantCore", "CSwiftQuantKernels"]),
        .target(name: "SwiftQuantSafeTensors", dependencies: ["SwiftQuantCore", "SwiftQuantKernels"]),
        .target(name: "SwiftQuantGGUF", dependencies: ["SwiftQuantCore", "SwiftQuantKernels"]),
        .target(name: "SwiftQuantCheckpoint", dependencies: [
            "SwiftQuantCore", "SwiftQuantKernels", "CZstd", "CXXHash",
        ]),
        // Model folders for other runtimes (compressed-tensors for transformers, MLX): sharded
        // safetensors written through SwiftQuantSafeTensors, config.json, tokenizer files.
        .target(name: "SwiftQuantModelFolder", dependencies: [
            "SwiftQuantCore", "SwiftQuantKernels", "SwiftQuantSafeTensors",
        ]),
        .target(name: "SwiftQuantPlan", dependencies: [
            "SwiftQuantCore", .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "SwiftQuantConversion", dependencies: [
            "SwiftQuantCore", "SwiftQuantKernels", "SwiftQuantPlan",
            "SwiftQuantSafeTensors", "SwiftQuantGGUF", "SwiftQuantCheckpoint",
        ]),
        .target(name: "CSwiftQuantKernels",
                linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),
        .target(name: "SwiftQuantNN", dependencies: ["SwiftQuantCore", "SwiftQuantKernels", "CSwiftQuantKernels"]),
        .target(name: "SwiftQuantModels", dependencies: ["SwiftQuantCore", "SwiftQuantKernels", "SwiftQuantNN"]),
        .target(name: "SwiftQuant", dependencies: [
            "SwiftQuantCore", "SwiftQuantKernels", "SwiftQuantSafeTensors", "SwiftQuantGGUF",
            "SwiftQuantCheckpoint", "SwiftQuantModelFolder", "SwiftQuantPlan", "SwiftQuantConversion", "SwiftQuantNN",
            "SwiftQuantModels",
        ]),
        .target(name: "SwiftQuantBench", dependencies: ["SwiftQuant"]),

        .executableTarget(name: "swiftquant", dependencies: [
            "SwiftQuant", "SwiftQuantBench",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "minilm-embed", dependencies: [
            "SwiftQuant", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test-only (no product): runs the rotalabs_accel mirror for Tests/Interop/check_rotalabs.py.
        .executableTarget(name: "rotalabs-mirror", dependencies: ["SwiftQuant"], path: "Tests/RotalabsMirror"),
        // Test-only (no product): encodes a corpus for Tests/Interop/check_bpe_tokenizer.py.
        .executableTarget(name: "bpe-tokenize", dependencies: ["SwiftQuant"], path: "Tests/BPETokenize"),

        // What every test target shares: model paths (one resolution rule), temporary folders,
        // the CLI runner, the `.slow` tag and seeded fixtures. Foundation and Testing only.
        .target(name: "SwiftQuantTestSupport", path: "Tests/SwiftQuantTestSupport"),
        .testTarget(name: "SwiftQuantKernelsTests", dependencies: ["SwiftQuant", "SwiftQuantTestSupport"]),
        .testTarget(name: "SwiftQuantReadersTests", dependencies: ["SwiftQuant", "SwiftQuantTestSupport"]),
        .testTarget(name: "SwiftQuantPlanTests", dependencies: ["SwiftQuant", "SwiftQuantTestSupport"]),
        .testTarget(name: "SwiftQuantWritersTests", dependencies: ["SwiftQuant", "SwiftQuantTestSupport"]),
        .testTarget(name: "SwiftQuantLoaderTests", dependencies: ["SwiftQuant", "SwiftQuantTestSupport"]),
        .testTarget(name: "SwiftQuantCLITests", dependencies: ["SwiftQuant", "SwiftQuantTestSupport"]),
        .testTarget(name: "SwiftQuantModelsTests", dependencies: ["SwiftQuant", "SwiftQuantTestSupport"]),
        .testTarget(name: "SwiftQuantNNTests", dependencies: [
            "SwiftQuantCore", "SwiftQuantKernels", "SwiftQuantNN", "CSwiftQuantKernels",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
