import ConciergeCore

/// Notes the contacts taken in, several in one transaction: contacts handed over at once share
/// one commit (on SQLite, one sync to disk) instead of one each. A note is durable when
/// ``note(_:)`` returns, as if it had been written alone.
actor TakenInNotes {
    let store: any ServerStore
    private var waiting: [(contact: TakenInContact, done: CheckedContinuation<Void, any Error>)] = []
    private var writing = false

    init(store: any ServerStore) { self.store = store }

    /// Writes the note with whatever else waits, and returns once it is committed.
    func note(_ contact: TakenInContact) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            waiting.append((contact, done))
            if !writing {
                writing = true
                Task { await self.writeWaiting() }
            }
        }
    }

    /// Writes what waits, batch after batch, until nothing does; notes arriving during a write
    /// go into the next batch.
    private func writeWaiting() async {
        while !waiting.isEmpty {
            let batch = waiting
            waiting = []
            do {
                try await store.noteTakenIn(batch.map(\.contact))
                for item in batch { item.done.resume() }
            } catch {
                for item in batch { item.done.resume(throwing: error) }
            }
        }
        writing = false
    }
}
