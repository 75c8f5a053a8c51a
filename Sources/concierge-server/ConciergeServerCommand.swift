import ArgumentParser
import ConciergeCore
import ConciergeServer
import Foundation
import Hummingbird
import Logging
import NIOCore

@main
struct ConciergeServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concierge-server",
        abstract: "The Concierge sync server: phones and agent apps sync their service cases with it.",
        version: ConciergeVersion.current,
        subcommands: [Serve.self, Admin.self],
        defaultSubcommand: Serve.self)
}

/// Flags shared by every command; each overrides its `CONCIERGE_*` variable.
struct ServerOptions: ParsableArguments {
    @Option(help: "Data folder (CONCIERGE_DATA, default ./concierge-data).")
    var data: String?
    @Option(
        help:
            "PostgreSQL URL, postgres://user:password@host:port/database (CONCIERGE_DATABASE_URL; unset: SQLite in the data folder)."
    )
    var databaseURL: String?

    func configuration() throws -> ServerConfiguration {
        var configuration = try ServerConfiguration(environment: ProcessInfo.processInfo.environment)
        if let data { configuration.dataFolder = URL(fileURLWithPath: data) }
        if let databaseURL { configuration.databaseURL = databaseURL }
        return configuration
    }

    func logger(_ configuration: ServerConfiguration) -> Logger {
        if configuration.logFormat == "json" { LogFormat.useJSON() }
        var logger = Logger(label: "concierge-server")
        logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
        return logger
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server (the default command).")

    @OptionGroup var options: ServerOptions
    @Option(help: "Listen address (CONCIERGE_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port (CONCIERGE_PORT, default 8080; 0 picks a free one).") var port: Int?
    @Option(help: "Write the bound port to this file once listening (for scripts and tests).") var portFile: String?
    @Option(help: "Append an audit line per accepted change set to this file (CONCIERGE_AUDIT_LOG).")
    var auditLog: String?
    @Flag(help: "Seed the demo provider from fixtures/demo (once) and print an enrolment code per principal.")
    var demo = false

    func validate() throws {
        if let port, !(0...65_535).contains(port) { throw ValidationError("--port must be 0 to 65535, not \(port)") }
    }

    func run() async throws {
        var configuration = try options.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let auditLog { configuration.auditLogPath = auditLog }
        let logger = options.logger(configuration)
        let parts = try await makeServerParts(configuration: configuration, logger: logger)
        if demo {
            for (principal, code) in try await DemoSeed.seed(into: parts.store) {
                print("demo \(principal.role) \(principal.id): enrolment code \(code)")
            }
            fflush(nil)  // scripts read the codes while the server runs
        }
        let portFile = self.portFile
        let app = buildApplication(configuration: configuration, parts: parts, logger: logger) { port in
            logger.info("listening", metadata: ["port": "\(port)", "epoch": "\(parts.store.epoch)"])
            if let portFile { try? String(port).write(toFile: portFile, atomically: true, encoding: .utf8) }
        }
        // runService handles SIGTERM and SIGINT: in-flight requests finish, then the database closes.
        do {
            try await app.runService()
            logger.info("stopped")
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            await parts.store.close()
            throw ServeError(
                "port \(configuration.port) on \(configuration.host) is in use by another program: stop it, or choose another with --port (0 picks a free one)"
            )
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL || error.errnoCode == EACCES {
            await parts.store.close()
            throw ServeError("cannot listen on \(configuration.host):\(configuration.port): \(error.description)")
        }
    }
}

/// Why the server could not run, in words: printed as `Error: ...`, exit status 1.
struct ServeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension ServeError: LocalizedError {
    var errorDescription: String? { description }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administer providers, principals, devices and the database.",
        subcommands: [
            CreateProvider.self, CreatePrincipal.self, IssueCode.self, RevokeDevice.self, CreateIntegration.self,
            AddKey.self, ListKeys.self, RevokeKey.self, AddContactPoint.self, ListContactPoints.self, Stats.self,
            Backup.self, MarkRestored.self, Compact.self,
        ])

    struct CreateProvider: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-provider", abstract: "Create a provider.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Provider id.") var id: String
        @Option(help: "Display name.") var name: String?
        @Option(help: "The region national phone numbers are read in (ISO 3166 alpha-2, say DE).") var region: String?

        func validate() throws {
            if let region, !PhoneNumber.isKnown(region: region) { throw ValidationError("unknown region \(region)") }
        }

        func run() async throws {
            let parts = try await Admin.open(options)
            try await parts.store.createProvider(id: ProviderID(id), name: name ?? id)
            if let region { try await parts.store.setDefaultRegion(of: ProviderID(id), to: region.uppercased()) }
            print("created provider \(id)")
        }
    }

    struct CreateIntegration: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-integration",
            abstract: "Create a channel integration (a mail gateway, a phone system, a chat widget).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Integration id.") var id: String
        @Option(help: "Provider id.") var provider: String
        @Option(help: "Display name.") var name: String?

        func run() async throws {
            let parts = try await Admin.open(options)
            _ = try await IntegrationAdmin.create(
                id: PrincipalID(id), provider: ProviderID(provider), name: name ?? id, store: parts.store)
            print("created integration \(id); give it a key with: admin add-key \(id) --channels email,phone")
        }
    }

    struct AddKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-key",
            abstract: "Give an integration a new API key (shown once; the old keys keep working until revoked).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Integration id.") var integration: String
        @Option(help: "The channels the key may write, comma-separated (email, phone, sms, chat, social, ...).")
        var channels: String

        func run() async throws {
            let parts = try await Admin.open(options)
            let (key, id) = try await IntegrationAdmin.addKey(
                to: PrincipalID(integration),
                channels: channels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                store: parts.store)
            print(key)
            FileHandle.standardError.write(Data("key \(id): keep it now, it is not shown again\n".utf8))
        }
    }

    struct ListKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list-keys", abstract: "List an integration's API keys (ids and channels, never secrets).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Integration id.") var integration: String

        func run() async throws {
            let parts = try await Admin.open(options)
            for key in try await parts.store.integrationKeys(of: PrincipalID(integration)) {
                let channels = key.channels.map(\.rawValue).sorted().joined(separator: ",")
                print("\(key.id)  \(channels)  \(key.revokedAt == nil ? "active" : "revoked")")
            }
        }
    }

    struct AddContactPoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-contact-point",
            abstract: "Register a customer's phone number, e-mail address or social handle (verified by the admin).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Customer id.") var customer: String
        @Argument(help: "phone, email or social.") var kind: String
        @Argument(
            help: "The number or address as written (+49 228 622243, 0228 622243, anna@example.com, twitter:@anna).")
        var point: String
        @Flag(help: "Store it unverified (a point seen somewhere, not confirmed).") var unverified = false

        func validate() throws {
            guard ["phone", "email", "social"].contains(kind) else {
                throw ValidationError("kind is phone, email or social, not \(kind)")
            }
        }

        func run() async throws {
            let parts = try await Admin.open(options)
            let stored = try await ContactPointAdmin.add(
                point, kind: kind, to: PrincipalID(customer), verifiedBy: unverified ? nil : "admin",
                store: parts.store)
            let note = stored.point.parsed ? "" : " (kept as written: it could not be read as a number)"
            print("\(stored.point) of \(customer), \(stored.verified ? "verified" : "unverified")\(note)")
        }
    }

    struct ListContactPoints: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list-contact-points", abstract: "List a customer's contact points.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Customer id.") var customer: String

        func run() async throws {
            let parts = try await Admin.open(options)
            for stored in try await parts.store.contactPoints(of: PrincipalID(customer)) {
                print("\(stored.point)  \(stored.verifiedBy.map { "verified by \($0)" } ?? "unverified")")
            }
        }
    }

    struct RevokeKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-key", abstract: "Revoke an integration's API key by its id.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Key id (list-keys shows them).") var id: String

        func run() async throws {
            let parts = try await Admin.open(options)
            try await parts.store.revokeIntegrationKey(id: id)
            print("revoked key \(id)")
        }
    }

    struct CreatePrincipal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-principal",
            abstract: "Create a customer, agent, specialist, technician, supervisor or integration.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Principal id.") var id: String
        @Option(help: "Provider id.") var provider: String
        @Option(help: "customer, agent, specialist, technician, supervisor or integration.") var role: String
        @Option(help: "Display name.") var name: String?
        @Option(help: "Skills, comma-separated.") var skills: String = ""
        @Option(help: "Queues, comma-separated.") var queues: String = ""

        func validate() throws {
            guard ["customer", "agent", "specialist", "technician", "supervisor", "integration"].contains(role) else {
                throw ValidationError("unknown role \(role)")
            }
        }

        func run() async throws {
            let parts = try await Admin.open(options)
            let list = { (text: String) in
                text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            try await parts.store.createPrincipal(
                Principal(
                    id: PrincipalID(id), provider: ProviderID(provider), role: Role(role), displayName: name ?? id,
                    skills: list(skills), queues: list(queues)))
            print("created \(role) \(id)")
        }
    }

    struct IssueCode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue-code", abstract: "Issue a one-time enrolment code.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Principal id.") var principal: String
        @Option(help: "Validity in hours.") var hours: Int64 = 24

        func run() async throws {
            let parts = try await Admin.open(options)
            print(try await parts.store.issueEnrolmentCode(for: PrincipalID(principal), lifetime: hours * 3600))
        }
    }

    struct RevokeDevice: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-device", abstract: "Revoke a device by its replica id.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Replica id.") var replica: String

        func run() async throws {
            guard let id = ReplicaID(replica) else { throw ValidationError("not a replica id: \(replica)") }
            let parts = try await Admin.open(options)
            try await parts.store.revokeDevice(id)
            print("revoked \(replica)")
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show row counts and the epoch.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let parts = try await Admin.open(options)
            print("epoch \(parts.store.epoch)")
            for (table, count) in try await parts.store.stats().sorted(by: { $0.key < $1.key }) {
                print("\(table) \(count)")
            }
        }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a consistent copy of the database (safe while the server runs).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The file to write (mode 0600); the signing key goes beside it as <file>.signing-key.json.")
        var file: String
        @Flag(help: "Overwrite the file (and its key copy) if they exist.") var force = false

        func run() async throws {
            let configuration = try options.configuration()
            let parts = try await Admin.open(options)
            guard let store = parts.store as? SQLiteServerStore else {
                throw ValidationError(
                    "backup copies the SQLite file; back PostgreSQL up with its own tools (pg_dump, base backups)")
            }
            let keyCopy = file + ".signing-key.json"
            if !force, FileManager.default.fileExists(atPath: keyCopy) {
                throw ValidationError("\(keyCopy) exists; pass --force to overwrite it")
            }
            try store.backup(to: file, replacing: force)
            // Without the key, every device would have to enrol again after a restore.
            let key = configuration.dataFolder.appendingPathComponent("signing-key.json").path
            if FileManager.default.fileExists(atPath: key) {
                try? FileManager.default.removeItem(atPath: keyCopy)
                try FileManager.default.copyItem(atPath: key, toPath: keyCopy)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyCopy)
            }
            print(
                "backed up to \(file) and \(keyCopy); to restore, put them back as concierge.sqlite and signing-key.json, then run `concierge-server admin mark-restored`"
            )
        }
    }

    struct Compact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compact the change log now (the server also does it every hour).")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let configuration = try options.configuration()
            let parts = try await Admin.open(options)
            let horizon = try await parts.store.compact(retentionMillis: configuration.retentionMillis)
            print("change log compacted through \(horizon)")
        }
    }

    struct MarkRestored: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mark-restored",
            abstract: "Give a restored database a new epoch, so that every replica resets.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let configuration = try options.configuration()
            if configuration.databaseURL != nil {
                let parts = try await Admin.open(options)
                try await (parts.store as! PostgresServerStore).markRestored()
                await parts.store.close()
            } else {
                try SQLiteServerStore.markRestored(path: configuration.databasePath)
            }
            print("new epoch set")
        }
    }

    static func open(_ options: ServerOptions) async throws -> ServerParts {
        let configuration = try options.configuration()
        return try await makeServerParts(configuration: configuration, logger: options.logger(configuration))
    }
}

/// The log format, chosen once per process (swift-log's backend can be set only once).
enum LogFormat {
    private static let json: Void = LoggingSystem.bootstrap { JSONLogHandler(label: $0) }

    static func useJSON() { _ = json }
}
