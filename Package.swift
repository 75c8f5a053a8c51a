// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "Concierge",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .library(name: "ConciergeCore", targets: ["ConciergeCore"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0")
    ],
    targets: [
        .target(
            name: "ConciergeCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "concierge-core-demo",
            dependencies: ["ConciergeCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConciergeCoreTests",
            dependencies: ["ConciergeCore"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
