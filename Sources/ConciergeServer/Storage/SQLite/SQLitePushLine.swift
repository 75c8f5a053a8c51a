import ConciergeCore
import GRDB

/// SQLite's push line (``PushLine``): groups are checked beside the writer, reading through the
/// pool's readers (``SQLitePushStore``), while SQLite's one writer writes and commits the group
/// before. The writer, which bounds what one SQLite file takes, does nothing but write rows.
///
/// Another connection's commit (an admin command beside the server) is seen by the cache's
/// `data_version` at the start of the writer's transaction: the cache is dropped and the group
/// checked again.
struct SQLitePushEngine: PushLineEngine {
    let pool: DatabasePool
    let checkpointer: WALCheckpointer
    let cache: RecordCache
    let images: SnapshotImages
    let epoch: String
    /// A test's, told inside each push transaction after its writes, with the outcomes of the
    /// group; throwing rolls the group back.
    let observer: any StoreObserver

    func checkStore(before: UncommittedGroup?) async throws -> SQLitePushStore {
        try await SQLitePushStore(pool: pool, before: before)
    }

    func rows(_ pending: PendingRows) -> SQLiteServerStore.WriteOrder { .init(pending) }

    /// Handed straight to the writer's queue: the transaction starts there at once, not once a
    /// thread of the concurrency pool is free (both may be busy, checking the next group and
    /// answering requests).
    func write(_ group: CheckedGroup<SQLiteServerStore.WriteOrder>, after previous: LineTransaction?)
        -> LineTransaction
    {
        let transaction = LineTransaction()
        let (cache, observer, checkpointer) = (cache, observer, checkpointer)
        pool.asyncWrite(
            { db in
                // The writer's queue is serial: `previous` has ended by now.
                if let previous, !previous.didCommit { return false }
                if try cache.checkDataVersion(in: db) { return false }
                try SQLiteServerStore.write(group.rows, callers: group.callers, in: db)
                try observer.beforeCommitBlocking(group.outcomes)
                return true
            },
            completion: { _, result in
                checkpointer.commitFinished()
                transaction.complete(result.mapError { SQLiteServerStore.storeError($0, "a write failed") })
            })
        return transaction
    }
}
