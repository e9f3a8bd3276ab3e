import Glibc

/// Where holder calls run: threads of daxmap's own that grow with demand.
///
/// A holder's `notifyFailure` may block its thread (`sleep`, a lock, a
/// synchronous flush), never return, or be an actor. On the cooperative pool
/// (one thread per core) two blocking holders stall every task of the
/// process, the removal's own deadline included. Here every job runs on an
/// idle worker if there is one, else on a new thread, so a blocked holder
/// holds only its own thread. Workers idle for a while exit. Task executor
/// preference (SE-0417) keeps the holder's nonisolated code and default
/// actors' code on these threads.
final class HolderExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = HolderExecutor()

    /// How long an idle worker waits for work before it exits.
    private static let idleSeconds = 5

    // Guarded by `mutex`.
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var idle = 0
    private var wakeups = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    private init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        let spawn = idle <= wakeups
        if spawn { } else { wakeups += 1 }
        pthread_mutex_unlock(mutex)
        if spawn { startWorker() } else { pthread_cond_signal(cond) }
    }

    private func startWorker() {
        guard !DetachedThread.start({ self.work() }) else { return }
        // No thread to be had: run the job here rather than never.
        if let job = take(waiting: false) { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }

    private func work() {
        while let job = take(waiting: true) {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The next job; waits up to the idle time for one when `waiting`.
    private func take(waiting: Bool) -> UnownedJob? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_sec += Self.idleSeconds
        while head == jobs.count {
            guard waiting else { return nil }
            idle += 1
            let rc = pthread_cond_timedwait(cond, mutex, &deadline)
            idle -= 1
            if wakeups > 0 { wakeups -= 1 }
            if rc == ETIMEDOUT && head == jobs.count { return nil }
        }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        }
        return job
    }
}
