// swift-tools-version: 6.0
import PackageDescription
import Foundation

// A package that depends on SwiftQuant the way README tells a user to: by URL and version,
// product `SwiftQuant`, one `import SwiftQuant`. A user writes the repository's URL here;
// `Tests/Consumer/run.sh` sets SWIFTQUANT_PACKAGE_URL to a temporary clone of the commit under
// test, tagged 0.1.0, so the check needs no network and sees exactly what a user would get.
let swiftQuantURL = ProcessInfo.processInfo.environment["SWIFTQUANT_PACKAGE_URL"]
    ?? "file:///SWIFTQUANT_PACKAGE_URL-is-not-set--run-Tests/Consumer/run.sh"

let package = Package(
    name: "SwiftQuantConsumer",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: swiftQuantURL, from: "0.1.0"),
    ],
    targets: [
        .executableTarget(name: "consumer", dependencies: [
            .product(name: "SwiftQuant", package: "SwiftQuant"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
