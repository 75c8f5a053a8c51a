import Foundation

/// A task executor with a thread of its own, for a serial stage that must neither wait for nor
/// hold one of the concurrency pool's threads (two on a 2-core machine, shared by every request):
/// the push line's checks, which run for tens of milliseconds per group and read SQLite with
/// blocking calls.
///
/// The thread starts with the first job and ends after `idleTimeout` without one; the next job
/// starts a new one. So an idle store holds no thread, and nothing needs shutting down.
final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let name: String
    private let idleTimeout: TimeInterval
    /// Guards `jobs` and `running`, and wakes the thread.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var running = false
    private var started = 0
    /// The thread running now, if any.
    private var thread: pthread_t?

    /// - Parameters:
    ///   - name: the thread's name (as tools like `perf` and `top -H` show it).
    ///   - idleTimeout: how long the thread waits for a job before it ends.
    init(name: String, idleTimeout: TimeInterval = 1) {
        self.name = name
        self.idleTimeout = idleTimeout
    }

    /// Whether its thread is running, and how many threads it started so far (for tests).
    var threads: (running: Bool, started: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (running, started)
    }

    /// Whether the caller runs on its thread (for tests).
    var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        return thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        let starts = !running
        running = true
        if starts { started += 1 }
        condition.signal()
        condition.unlock()
        guard starts else { return }
        Thread { self.run() }.start()
    }

    /// Runs jobs in the order they came until none came for `idleTimeout`.
    private func run() {
        // Named from inside: on Linux, a name given before the start does not reach the system
        // (the thread would carry its creator's name).
        Thread.current.name = name
        let executor = asUnownedTaskExecutor()
        condition.lock()
        thread = pthread_self()
        while true {
            guard !jobs.isEmpty else {
                if !condition.wait(until: Date(timeIntervalSinceNow: idleTimeout)) && jobs.isEmpty {
                    // Under the lock: a job queued after this sees `running` false and starts a thread.
                    running = false
                    thread = nil
                    condition.unlock()
                    return
                }
                continue
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: executor) }
            condition.lock()
        }
    }
}
