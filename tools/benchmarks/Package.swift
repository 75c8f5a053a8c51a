// swift-tools-version: 6.1
// Benchmarks, in a package of their own so that the ordinary build and CI do not compile them.
import PackageDescription

let package = Package(
    name: "ConciergeBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .executableTarget(
            name: "core-bench",
            dependencies: [.product(name: "ConciergeCore", package: "main")],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "server-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "ConciergeCore", package: "main"),
                .product(name: "ConciergeServer", package: "main"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "sync-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "ConciergeCore", package: "main"),
                .product(name: "ConciergeServer", package: "main"),
                .product(name: "ConciergeClient", package: "main"),
                .product(name: "ConciergeStore", package: "main"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "intake-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "ConciergeCore", package: "main"),
                .product(name: "ConciergeServer", package: "main"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "routing-bench",
            dependencies: [
                "BenchSupport", "BenchStore",
                .product(name: "ConciergeCore", package: "main"),
                .product(name: "ConciergeServer", package: "main"),
            ]
        ),
        .target(name: "BenchSupport", dependencies: [.product(name: "ConciergeCore", package: "main")]),
        .target(name: "BenchStore", dependencies: [.product(name: "ConciergeServer", package: "main")]),
        .executableTarget(
            name: "store-bench",
            dependencies: [
                "BenchSupport", "BenchStore",
                .product(name: "ConciergeCore", package: "main"),
                .product(name: "ConciergeServer", package: "main"),
            ]
        ),
        .executableTarget(
            name: "load-gen",
            dependencies: [
                "BenchSupport",
                .product(name: "ConciergeCore", package: "main"),
                .product(name: "ConciergeClient", package: "main"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
