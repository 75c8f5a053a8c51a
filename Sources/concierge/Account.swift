import ConciergeClient
import ConciergeCore
import ConciergeStore
import Foundation

/// One account: its replica file, the replica logic on it, and the sync engine over HTTP.
struct Account: Sendable {
    let file: ReplicaFile
    let stored: StoredAccount
    let replica: Replica<ReplicaFile>

    init(file: ReplicaFile) throws {
        self.file = file
        self.stored = try file.account()
        self.replica = Replica(store: file)
    }

    var label: String { stored.label }
    var session: Session { stored.session }
    var replicaID: ReplicaID { stored.session.replica }
    var author: Author { stored.session.author }
    var provider: ProviderID { stored.session.provider }

    /// The transport; rotated tokens are written to the replica file as they arrive.
    func transport() -> HTTPSyncTransport {
        let file = self.file
        return HTTPSyncTransport(session: session, timeout: .seconds(20)) { session in
            try? file.saveSession(session)
        }
    }

    /// Pushes the outbox, pulls until the server has nothing more, and records the outcome.
    /// A failure leaves everything local as it was: pending sets stay pending.
    func sync(progress: (SyncReport) -> Void = { _ in }) async -> SyncResult {
        var configuration = SyncMachine.Configuration()
        configuration.maxAttempts = 3
        configuration.baseDelayMillis = 200
        configuration.maxDelayMillis = 2_000
        let engine = SyncEngine(replica: replica, transport: transport(), configuration: configuration)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        do {
            let report = try await engine.sync(seed: UInt64(truncatingIfNeeded: now), progress: progress)
            let result = SyncResult(
                account: self, report: report, error: nil, pending: (try? replica.outbox().count) ?? 0)
            try? file.recordSync(atMillis: now, finished: true, summary: result.summary)
            return result
        } catch {
            let syncError = error as? SyncError ?? SyncError(.unavailable, "\(error)")
            let result = SyncResult(
                account: self, report: nil, error: syncError, pending: (try? replica.outbox().count) ?? 0)
            try? file.recordSync(atMillis: now, finished: false, summary: result.summary)
            return result
        }
    }
}

/// How one account's sync went, for the one-line summary and `--json`.
struct SyncResult: Sendable {
    let account: Account
    let report: SyncReport?
    let error: SyncError?
    let pending: Int

    var summary: String {
        guard let report else {
            let reason =
                switch error?.code {
                case .deviceRevoked?:
                    "this device was revoked; local data is kept, \(pending) change set(s) could not be sent"
                case .unavailable?: "the server cannot be reached (\(error!.message)); \(pending) change set(s) pending"
                default: "\(error?.description ?? "failed"); \(pending) change set(s) pending"
                }
            return "\(account.label): not synced: \(reason)"
        }
        var parts = ["pushed \(report.accepted)", "pulled \(report.pulledChangeSets + report.snapshotRecords)"]
        if !report.resets.isEmpty { parts.append("reset (\(report.resets.joined(separator: ", ")))") }
        if report.entered > 0 { parts.append("\(report.entered) entered") }
        if report.left > 0 { parts.append("\(report.left) left") }
        var line = "\(account.label): synced: \(parts.joined(separator: ", "))"
        if !report.rejected.isEmpty {
            let named = report.rejected.map { "\($0.changeSet.id.seq) (\($0.error.code): \($0.error.message))" }
            line += "; REJECTED set(s) \(named.joined(separator: "; "))"
        }
        if pending > 0 { line += "; \(pending) pending" }
        return line
    }

    var json: Value {
        var members: [String: Value] = [
            "account": .string(account.label), "ok": .bool(error == nil), "pending": .int(Int64(pending)),
            "summary": .string(summary),
        ]
        if let report {
            members["pushed"] = .int(Int64(report.accepted))
            members["pulled"] = .int(Int64(report.pulledChangeSets))
            members["snapshotRecords"] = .int(Int64(report.snapshotRecords))
            members["resets"] = .array(report.resets.map(Value.string))
            members["rejected"] = .array(
                report.rejected.map {
                    .object([
                        "seq": .int(Int64($0.changeSet.id.seq)), "code": .string($0.error.code.rawValue),
                        "message": .string($0.error.message),
                    ])
                })
        }
        if let error {
            members["error"] = .object(["code": .string(error.code.rawValue), "message": .string(error.message)])
        }
        return .object(members)
    }
}
