import AsyncHTTPClient
import ConciergeClient
import ConciergeCore
import ConciergeHarness
import ConciergeServer
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `concierge-server serve` as an operator starts it: a port it cannot have, or a setting out of
/// range, ends it at once with a clear message and a non-zero status.
@Suite(.timeLimit(.minutes(1))) struct ServeTests {
    static let binary = Repository.path(".build/debug/concierge-server")

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString)").path
    }

    /// A port in use ended the server with nothing but this message. (Before, the failed bind left
    /// the background services spinning on the closed database, logging "compaction failed" about
    /// 14,000 times a second and ignoring SIGTERM: this test then ran into its time limit.)
    @Test func aPortInUseEndsTheServerAtOnceWithAClearMessage() async throws {
        let server = try await TestServer.start()
        let answer = try await ProcessRunner.run(
            Self.binary, ["serve", "--data", Self.folder(), "--port", String(server.port)])
        #expect(answer.status == 1)
        #expect(answer.text.contains("port \(server.port) on 127.0.0.1 is in use by another program"), "\(answer.text)")
        #expect(answer.text.split(separator: "\n").count < 5, "\(answer.text)")
        await server.stop()
    }

    @Test func anOutOfRangePortAndAnUnknownLogLevelAreRefused() async throws {
        let port = try await ProcessRunner.run(Self.binary, ["serve", "--data", Self.folder(), "--port", "99999"])
        #expect(port.status != 0)
        #expect(port.text.contains("--port must be 0 to 65535, not 99999"), "\(port.text)")
        let variable = try await ProcessRunner.run(
            Self.binary, ["serve", "--data", Self.folder()], environment: ["CONCIERGE_PORT": "70000"])
        #expect(variable.status != 0)
        #expect(variable.text.contains("CONCIERGE_PORT must be 0 to 65535"), "\(variable.text)")
        let level = try await ProcessRunner.run(
            Self.binary, ["serve", "--data", Self.folder()], environment: ["CONCIERGE_LOG_LEVEL": "loud"])
        #expect(level.status != 0)
        #expect(level.text.contains("CONCIERGE_LOG_LEVEL must be one of trace, debug, info"), "\(level.text)")
    }
}

/// The data folder, the database and its log files, and backups are the server user's alone,
/// whatever the umask (root's 022 made them 0644 before); a backup never overwrites a file unless
/// told to, and takes the signing key with it.
@Suite(.timeLimit(.minutes(1))) struct FileModeTests {
    static func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func theDataFolderAndTheDatabaseFilesAreTheServersAlone() async throws {
        // An existing folder, open to everyone, is tightened.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let server = try await TestServer.start(folder: folder)
        try await server.seed()
        let database = folder.appendingPathComponent("concierge.sqlite").path
        #expect(try Self.mode(folder.path) == 0o700)
        for file in [database, database + "-wal", database + "-shm"] {
            #expect(try Self.mode(file) == 0o600, "\(file)")
        }
        #expect(try Self.mode(folder.appendingPathComponent("signing-key.json").path) == 0o600)
        await server.stop()
    }

    @Test func aBackupIsPrivateKeepsTheKeyAndOverwritesOnlyWhenTold() async throws {
        let data = ServeTests.folder()
        let binary = ServeTests.binary
        let created = try await ProcessRunner.run(binary, ["admin", "create-provider", "acme", "--data", data])
        #expect(created.status == 0, "\(created.text)")
        let backup = ServeTests.folder() + ".sqlite"
        let first = try await ProcessRunner.run(binary, ["admin", "backup", backup, "--data", data])
        #expect(first.status == 0, "\(first.text)")
        #expect(try Self.mode(backup) == 0o600)
        #expect(try Self.mode(backup + ".signing-key.json") == 0o600)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: backup + ".signing-key.json"))
                == Data(contentsOf: URL(fileURLWithPath: data + "/signing-key.json")))
        let again = try await ProcessRunner.run(binary, ["admin", "backup", backup, "--data", data])
        #expect(again.status != 0)
        #expect(again.text.contains("exists; pass --force to overwrite it"), "\(again.text)")
        let forced = try await ProcessRunner.run(binary, ["admin", "backup", backup, "--force", "--data", data])
        #expect(forced.status == 0, "\(forced.text)")
    }
}

/// Connections that send nothing, or half a request and then nothing, are closed after the idle
/// timeout (before, they stayed open for ever: a few hundred of them stopped the server).
@Suite(.timeLimit(.minutes(1))) struct ConnectionTimeoutTests {
    /// A plain TCP connection to the server on loopback.
    struct RawConnection {
        let socket: Int32

        init(port: Int) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
            // Reads give up after 10 s: a server that never closes fails the test, not the run.
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        @discardableResult
        func send(_ text: String) -> Int { text.withCString { Glibc.send(socket, $0, strlen($0), 0) } }

        /// Whether the server closed the connection (a read of 0 bytes) before the read gave up.
        func closedByServer() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(socket, &buffer, buffer.count, 0)
                if count == 0 { return true }
                if count < 0 { return false }
            }
        }

        func close() { _ = Glibc.close(socket) }
    }

    @Test func idleAndHalfSentConnectionsAreClosed() async throws {
        let server = try await TestServer.start { $0.idleTimeoutSeconds = 2 }
        let idle = try RawConnection(port: server.port)
        let halfSent = try RawConnection(port: server.port)
        halfSent.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        let start = ContinuousClock.now
        #expect(idle.closedByServer())
        #expect(halfSent.closedByServer())
        #expect(ContinuousClock.now - start < .seconds(9))
        idle.close()
        halfSent.close()
        // (Connections in use are the ones every other test makes: they all pass the same handler.)
        await server.stop()
    }
}

/// What an operator reads at the default level, as JSON lines: start and stop, each enrolment,
/// each refused set by its code, each revocation; never a code, a token or a body.
@Suite(.timeLimit(.minutes(1))) struct OperatorLogTests {
    @Test func theServersLifeIsLoggedAsJSONWithoutSecrets() async throws {
        let binary = ServeTests.binary
        let data = ServeTests.folder()
        for arguments in [
            ["admin", "create-provider", "acme"],
            ["admin", "create-principal", "anna", "--provider", "acme", "--role", "customer"],
        ] {
            let made = try await ProcessRunner.run(binary, arguments + ["--data", data])
            #expect(made.status == 0, "\(made.text)")
        }
        let code = try await ProcessRunner.run(binary, ["admin", "issue-code", "anna", "--data", data]).text
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let log = URL(fileURLWithPath: data + ".log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let portFile = data + ".port"
        let server = Process()
        server.executableURL = binary
        server.arguments = ["serve", "--data", data, "--port", "0", "--port-file", portFile]
        server.environment = ProcessInfo.processInfo.environment.merging(["CONCIERGE_LOG_FORMAT": "json"]) { $1 }
        server.standardError = try FileHandle(forWritingTo: log)
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        var port: Int?
        for _ in 0..<200 where port == nil {
            try await Task.sleep(for: .milliseconds(50))
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
        }
        let url = URL(string: "http://127.0.0.1:\(try #require(port))/")!
        let session = try await HTTPSyncTransport.enrol(server: url, code: code, deviceName: "phone")
        let device = TestDevice(session: session)
        // A priority on a case that does not exist (a new case without provider and customer): refused.
        let key = RecordKey(type: .serviceCase, id: "c1")
        let refused = BadInputTests.set(
            device, seq: 1,
            [
                (
                    key,
                    {
                        .write(
                            field: CaseFields.priority, value: "high", base: nil, stamp: $0, history: true,
                            personal: false)
                    }
                )
            ])
        _ = try await device.transport.push(PushRequest(changeSets: [refused]))
        var revoke = HTTPClientRequest(url: url.absoluteString + "v1/devices/\(session.replica)")
        revoke.method = .DELETE
        revoke.headers.add(name: "Authorization", value: "Bearer \(session.accessToken)")
        #expect(try await HTTPClient.shared.execute(revoke, timeout: .seconds(10)).status == .ok)
        server.terminate()
        server.waitUntilExit()
        let text = try String(contentsOf: log, encoding: .utf8)
        let lines = text.split(separator: "\n").map { try? CanonicalJSON.decode(String($0)) }
        #expect(lines.allSatisfy { $0 != nil }, "not JSON: \(text)")
        let messages = lines.compactMap { $0?["message"]?.stringValue }
        for event in ["listening", "device enrolled", "change set refused", "device revoked", "stopped"] {
            #expect(messages.contains(event), "\(event) missing from \(messages)")
        }
        // The refused set's code (a priority on a case that names no provider nor customer), not its content.
        #expect(
            lines.contains { $0?["message"] == "change set refused" && $0?["concierge.code"] == "malformed" },
            "\(text)")
        #expect(!text.contains("\"high\""))
        for secret in [code, session.refreshToken, session.accessToken] { #expect(!text.contains(secret)) }
    }
}

/// An administrator registers known numbers and addresses: read the one way the server matches
/// them, a point of another customer refused.
@Suite(.timeLimit(.minutes(1))) struct ContactPointAdminTests {
    @Test func knownNumbersAreRegisteredInTheirNormalForm() async throws {
        let binary = ServeTests.binary
        let data = ServeTests.folder()
        func admin(_ arguments: String...) async throws -> ProcessRunner.Output {
            try await ProcessRunner.run(binary, ["admin"] + arguments + ["--data", data])
        }
        #expect(try await admin("create-provider", "acme", "--region", "DE").status == 0)
        for customer in ["anna", "carl"] {
            #expect(
                try await admin("create-principal", customer, "--provider", "acme", "--role", "customer").status == 0)
        }
        let added = try await admin("add-contact-point", "anna", "phone", "0228 622243")
        #expect(added.status == 0)
        #expect(added.text.contains("phone:+49228622243 of anna, verified"), "\(added.text)")
        let taken = try await admin("add-contact-point", "carl", "phone", "+49 228 622243")
        #expect(taken.status != 0)
        #expect(taken.text.contains("belongs to customer anna"), "\(taken.text)")
        let bad = try await admin("add-contact-point", "carl", "email", "not an address")
        #expect(bad.status != 0)
        #expect(try await admin("add-contact-point", "carl", "email", "Carl@Example.com", "--unverified").status == 0)
        let listed = try await admin("list-contact-points", "carl")
        #expect(listed.text.contains("email:carl@example.com  unverified"), "\(listed.text)")
        #expect(try await admin("list-contact-points", "anna").text.contains("phone:+49228622243  verified by admin"))
    }
}
