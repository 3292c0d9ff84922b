// swift-tools-version: 6.0
import PackageDescription
import Foundation

// The inference kernels (SwiftQuantLoader) are compiled for the build machine's vector units
// (AVX-512/AVX2 + FMA on x86_64): the baseline x86-64 target has neither FMA nor wide
// sign-extension, and the int8 matmul runs 4-5x slower. SWIFTQUANT_PORTABLE=1 builds for the
// baseline target instead (binaries that run on any x86_64 CPU).
let inferenceKernelSettings: [SwiftSetting] =
    ProcessInfo.processInfo.environment["SWIFTQUANT_PORTABLE"] == "1"
    ? [] : [.unsafeFlags(["-target-cpu", "native"]), .define("SWIFTQUANT_FMA")]

// Data flows one way through the library modules:
//   SwiftQuantReaders (safetensors, GGUF, our checkpoint)
//   → SwiftQuantPlan (rules decide each tensor)
//   → SwiftQuantKernels (quantization, SIMD math; depends on nothing)
//   → SwiftQuantWriters (our checkpoint, GGUF, safetensors; the streaming converter)
//   → SwiftQuantLoader (QuantizedLinear for inference)
let package = Package(
    name: "SwiftQuant",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "swiftquant", targets: ["swiftquant"]),
        .executable(name: "minilm-embed", targets: ["minilm-embed"]),
        .library(name: "SwiftQuant", targets: [
            "SwiftQuantReaders", "SwiftQuantPlan", "SwiftQuantKernels",
            "SwiftQuantWriters", "SwiftQuantLoader",
        ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CXXHash", pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]),

        .target(name: "SwiftQuantKernels"),
        .target(name: "SwiftQuantReaders", dependencies: ["SwiftQuantKernels", "CZstd", "CXXHash"]),
        .target(name: "SwiftQuantPlan", dependencies: [
            "SwiftQuantReaders", "SwiftQuantKernels", .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "SwiftQuantWriters", dependencies: [
            "SwiftQuantReaders", "SwiftQuantPlan", "SwiftQuantKernels", "CZstd", "CXXHash",
        ]),
        .target(name: "SwiftQuantLoader", dependencies: ["SwiftQuantReaders", "SwiftQuantKernels"],
                swiftSettings: inferenceKernelSettings),
        .target(name: "MiniLM", dependencies: ["SwiftQuantLoader", "SwiftQuantReaders", "SwiftQuantKernels"]),

        .executableTarget(name: "swiftquant", dependencies: [
            "SwiftQuantReaders", "SwiftQuantPlan", "SwiftQuantKernels",
            "SwiftQuantWriters", "SwiftQuantLoader", "MiniLM",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "minilm-embed", dependencies: [
            "MiniLM", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SwiftQuantKernelsTests", dependencies: ["SwiftQuantKernels"]),
        .testTarget(name: "SwiftQuantReadersTests", dependencies: ["SwiftQuantReaders", "SwiftQuantKernels"]),
        .testTarget(name: "SwiftQuantPlanTests", dependencies: ["SwiftQuantPlan", "SwiftQuantReaders"]),
        .testTarget(name: "SwiftQuantWritersTests", dependencies: [
            "SwiftQuantWriters", "SwiftQuantReaders", "SwiftQuantPlan", "SwiftQuantKernels",
        ]),
        .testTarget(name: "SwiftQuantLoaderTests", dependencies: ["SwiftQuantLoader", "MiniLM", "SwiftQuantWriters"]),
        .testTarget(name: "SwiftQuantCLITests", dependencies: ["SwiftQuantReaders"]),
    ],
    swiftLanguageModes: [.v6]
)
