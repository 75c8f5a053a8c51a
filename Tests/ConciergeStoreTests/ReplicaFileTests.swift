import ConciergeCore
import ConciergeStore
import ConciergeTestSupport
import Foundation
import GRDB
import Testing

@Suite struct ReplicaFileTests {
    static func folder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replica-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    static func session(_ replica: ReplicaID = .random()) -> Session {
        Session(
            server: URL(string: "http://127.0.0.1:9/")!, replica: replica, principal: "agent-1", provider: "acme",
            role: .agent, refreshToken: "refresh-secret", accessToken: "access-secret")
    }

    static func create(in folder: URL) throws -> ReplicaFile {
        try ReplicaFile.create(
            path: folder.appendingPathComponent("a.sqlite").path, session: session(), label: "test", nowMillis: 1)
    }

    @Test func replicaFileKeepsTheContract() throws {
        try ReplicaStoreContract.check(try Self.create(in: Self.folder()))
    }

    @Test func theContractSurvivesReopening() throws {
        let folder = try Self.folder()
        let file = try Self.create(in: folder)
        try ReplicaStoreContract.check(file)
        let before = try ReplicaStoreContract.fingerprint(file)
        try file.close()
        #expect(try ReplicaStoreContract.fingerprint(ReplicaFile.open(path: file.path)) == before)
    }

    @Test func fileIsPrivateAndKeepsTheAccount() throws {
        let file = try Self.create(in: Self.folder())
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        var session = try file.account().session
        #expect(session == Self.session(session.replica))
        session.refreshToken = "rotated"
        try file.saveSession(session)
        try file.recordSync(atMillis: 5, finished: false, summary: "server unreachable")
        let account = try ReplicaFile.open(path: file.path).account()
        #expect(account.session.refreshToken == "rotated")
        #expect(account.lastSyncSummary == "server unreachable" && account.lastSyncFinished == false)
    }

    @Test func editsAndPullsCommitWholeInTheFile() throws {
        let file = try Self.create(in: Self.folder())
        let replica = Replica(store: file, wallClock: FixedWallClock(millis: 1_000))
        let key = RecordKey(type: .serviceCase, id: "c1")
        try replica.edit { editor in
            try editor.write("high", to: CaseFields.priority, of: key)
            try editor.append(EntryKind.note, to: CaseFields.timeline, of: key, personal: ["body": "hi"])
        }
        #expect(try replica.visibleRecord(key)?.value(CaseFields.priority) == "high")
        let before = try ReplicaStoreContract.fingerprint(file)
        #expect(throws: SyncError.self) {
            try replica.edit { editor in
                try editor.write("low", to: CaseFields.priority, of: key)
                try editor.write("x", to: "noSuchField", of: key)
            }
        }
        #expect(try ReplicaStoreContract.fingerprint(file) == before)
    }

    @Test func recordsAreStoredInTheBinaryFormAndEarlierJSONRowsStillRead() throws {
        let folder = try Self.folder()
        let file = try Self.create(in: folder)
        let author = Author(principal: "agent-1", role: .agent)
        let stamp = Stamp(hlc: HLC(millis: 1_000), replica: .random())
        var records: [ConciergeCore.Record] = []
        for id in ["new", "old"] {
            var record = ConciergeCore.Record(key: RecordKey(type: .serviceCase, id: RecordID(id)))
            try record.apply(
                .write(
                    field: CaseFields.subject, value: "Grüße", base: nil, stamp: stamp, history: true, personal: true),
                by: author)
            records.append(record)
        }
        try file.write { try $0.saveConfirmed(records[0]) }
        try file.close()
        // A row as files written before the binary form hold it: canonical JSON.
        let queue = try DatabaseQueue(path: file.path)
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO confirmed (type, id, record) VALUES (?, ?, ?)",
                arguments: ["case", "old", Data(records[1].canonicalJSON)])
        }
        let stored = try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM confirmed WHERE id = 'new'")!
        }
        try queue.close()
        #expect(Array(stored.prefix(4)) == Array("CRB1".utf8))
        #expect(stored.count * 3 < records[0].canonicalJSON.count)
        let reopened = try ReplicaFile.open(path: file.path)
        for record in records {
            #expect(try reopened.read { try $0.confirmedRecord(record.key) } == record)
        }
    }

    /// A file of the previous build (its confirmed table clustered on the key) is migrated when
    /// opened: the table becomes an ordinary one with a unique key, and every record is kept.
    @Test func aFileWithTheClusteredConfirmedTableIsMigratedWithItsRecords() throws {
        let file = try Self.create(in: Self.folder())
        let replica = ReplicaID.random()
        let records = (0..<50).map { index in
            var record = ConciergeCore.Record(key: RecordKey(type: .serviceCase, id: RecordID("case-\(index)")))
            try! record.apply(
                .write(
                    field: CaseFields.subject, value: .string("subject \(index)"), base: nil,
                    stamp: Stamp(hlc: HLC(millis: 1_000 + UInt64(index)), replica: replica), history: false,
                    personal: true),
                by: Author(principal: "agent-1", role: .agent))
            return record
        }
        try file.write { writer in for record in records { try writer.saveConfirmed(record) } }
        try file.close()
        // Back to the layout 001_initial made, as the previous build left it.
        let queue = try DatabaseQueue(path: file.path)
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE confirmed_old (type TEXT NOT NULL, id TEXT NOT NULL, record BLOB NOT NULL,
                        PRIMARY KEY (type, id)) WITHOUT ROWID;
                    INSERT INTO confirmed_old SELECT type, id, record FROM confirmed;
                    DROP TABLE confirmed;
                    ALTER TABLE confirmed_old RENAME TO confirmed;
                    DELETE FROM grdb_migrations WHERE identifier = '002_confirmed_rowid';
                    """)
        }
        try queue.close()
        let reopened = try ReplicaFile.open(path: file.path)
        #expect(try reopened.read { try $0.confirmedKeys() } == records.map(\.key).sorted())
        for record in records {
            #expect(try reopened.read { try $0.confirmedRecord(record.key) } == record)
        }
        try reopened.close()
        let layout = try DatabaseQueue(path: file.path).read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'confirmed'")
        }
        #expect(layout?.contains("WITHOUT ROWID") == false)
        #expect(layout?.contains("UNIQUE (type, id)") == true)
    }

    @Test func creatingNeverOverwrites() throws {
        let folder = try Self.folder()
        let path = folder.appendingPathComponent("a.sqlite").path
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ReplicaFileError.self) {
            try ReplicaFile.create(path: path, session: Self.session(), label: "x", nowMillis: 1)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("precious".utf8))
    }

    @Test(arguments: ["text", "empty", "sqlite", "garbage"])
    func foreignFilesAreRefusedAndLeftUntouched(kind: String) throws {
        let path = try Self.folder().appendingPathComponent("foreign.sqlite").path
        switch kind {
        case "text": try Data("name,phone\nanna,123\n".utf8).write(to: URL(fileURLWithPath: path))
        case "empty": FileManager.default.createFile(atPath: path, contents: Data())
        case "sqlite":
            let queue = try DatabaseQueue(path: path)
            try queue.write {
                try $0.execute(sql: "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('a')")
            }
            try queue.close()
        default:
            var generator = SystemRandomNumberGenerator()
            try Data((0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(
                to: URL(fileURLWithPath: path))
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            _ = try ReplicaFile.open(path: path)
            Issue.record("a \(kind) file was opened as a replica")
        } catch let error as ReplicaFileError {
            #expect(error.code == .foreignFile, "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func aDamagedReplicaIsReportedNotOverwritten() throws {
        let folder = try Self.folder()
        let file = try Self.create(in: folder)
        let replica = Replica(store: file, wallClock: FixedWallClock(millis: 1_000))
        for index in 0..<200 {
            try replica.edit { editor in
                try editor.append(
                    EntryKind.note, to: CaseFields.timeline,
                    of: RecordKey(type: .serviceCase, id: RecordID("c\(index)")),
                    personal: ["body": Value.string(String(repeating: "x", count: 200))])
            }
        }
        try file.close()
        // Overwrite the pages after the first two with garbage, keeping the header intact.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: file.path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: 8192)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: Int(size) - 8192))
        try handle.close()
        let damaged = try Data(contentsOf: URL(fileURLWithPath: file.path))
        do {
            let reopened = try ReplicaFile.open(path: file.path)
            _ = try Replica(store: reopened).outbox()
            Issue.record("a damaged file read without error")
        } catch let error as ReplicaFileError {
            #expect([.corrupt, .foreignFile].contains(error.code), "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: file.path)) == damaged)
    }
}
