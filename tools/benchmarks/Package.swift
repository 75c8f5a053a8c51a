// swift-tools-version: 6.1
// Benchmarks, in a package of their own so that the ordinary build and CI do not compile them.
import PackageDescription

let package = Package(
    name: "ConciergeBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "core-bench",
            dependencies: [.product(name: "ConciergeCore", package: "main")],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        )
    ],
    swiftLanguageModes: [.v6]
)
