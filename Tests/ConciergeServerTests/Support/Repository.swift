import Foundation

/// The repository's top folder, found from this file: for `schema/`, `fixtures/` and the built
/// `concierge-server` binary.
enum Repository {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path),
                FileManager.default.fileExists(atPath: url.appendingPathComponent("schema").path)
            {
                return url
            }
        }
        fatalError("no repository above \(#filePath)")
    }()

    static func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}
