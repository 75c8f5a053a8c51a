// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "Concierge",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .library(name: "ConciergeCore", targets: ["ConciergeCore"]),
        .library(name: "ConciergeServer", targets: ["ConciergeServer"]),
        .library(name: "ConciergeClient", targets: ["ConciergeClient"]),
        .library(name: "ConciergeStore", targets: ["ConciergeStore"]),
        .executable(name: "concierge-server", targets: ["concierge-server"]),
        .executable(name: "concierge", targets: ["concierge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", .upToNextMinor(from: "7.10.0")),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
    ],
    targets: [
        .target(
            name: "ConciergeCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConciergeServer",
            dependencies: [
                "ConciergeCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConciergeClient",
            dependencies: [
                "ConciergeCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConciergeStore",
            dependencies: [
                "ConciergeCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "concierge",
            dependencies: [
                "ConciergeCore",
                "ConciergeClient",
                "ConciergeStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The integration harness (tools/harness): a real server, many replicas, cut connections,
        // an independent oracle. Driven by the tests.
        .target(
            name: "ConciergeHarness",
            dependencies: [
                "ConciergeCore", "ConciergeClient", "ConciergeServer", "ConciergeStore", "ConciergeTestSupport",
            ],
            path: "tools/harness/Sources/ConciergeHarness",
            swiftSettings: swiftSettings
        ),
        // The replica-store contract, run by the tests of every store.
        .target(
            name: "ConciergeTestSupport",
            dependencies: ["ConciergeCore"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "concierge-server",
            dependencies: [
                "ConciergeServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConciergeCoreTests",
            dependencies: ["ConciergeCore", "ConciergeTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConciergeStoreTests",
            dependencies: ["ConciergeStore", "ConciergeTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConciergeServerTests",
            dependencies: [
                "ConciergeServer",
                "ConciergeClient",
                "ConciergeStore",
                "ConciergeTestSupport",
                "ConciergeHarness",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
