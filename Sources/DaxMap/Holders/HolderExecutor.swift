import Glibc

/// Where holder calls run: threads of daxmap's own that grow when holders block.
///
/// A holder's `notifyFailure` may block its thread (`sleep`, a lock, a
/// synchronous flush), never return, or be an actor. On the cooperative pool
/// (one thread per core) two blocking holders stall every task of the
/// process, the removal's own deadline included. Here a job wakes an idle
/// worker, or starts one, while fewer workers than cores are running; past
/// that, running workers take queued jobs as they finish, so a thousand quick
/// holders cost a thread per core and few wake-ups. When the oldest waiting job has waited a
/// millisecond (the running workers are slow or blocked in a holder), a
/// watchdog wakes or adds a worker: a blocked holder holds only its own
/// thread and delays the others by about a millisecond. Idle workers exit
/// after a while. The workers never take the process's last threads: under a
/// thread limit (RLIMIT_NPROC) they stop at half of it (``ceiling``), and at
/// the first thread that cannot be created they stop where they are, so holders
/// that block forever leave the rest of the process (the removal, the Swift
/// runtime's own threads, the way to `exit`) threads to run on; the jobs past
/// the ceiling wait for a worker to come free (the removal's deadline does not
/// wait for them). Task executor preference (SE-0417) keeps the holder's
/// nonisolated code and default actors' code on these threads.
/// Part of ``DaxRuntime``.
final class HolderExecutor: TaskExecutor, @unchecked Sendable {
    /// What the workers are called (`ps -L`, debuggers, and tests that check
    /// where a holder ran).
    static let workerName = "daxmap-holder"
    /// Workers a new job wakes or starts while fewer are running.
    private static let cores = Syscalls.processorCount
    /// How long an idle worker waits for work before it exits.
    private static let idleSeconds = 5
    /// How long the oldest job may wait before one more worker is started.
    private static let stallNanoseconds: UInt64 = 1_000_000
    /// At most this many workers: half the thread limit, when there is one
    /// (never fewer than the cores).
    static let ceiling: Int = Syscalls.threadLimit.map { max(cores, $0 / 2) } ?? Int.max

    // Guarded by `workAvailable`.
    private var jobs: [(job: UnownedJob, queued: UInt64)] = []
    private var head = 0
    private var idle = 0
    private var wakeups = 0
    private var workers = 0
    private var watchdogRunning = false
    /// Workers started but not yet running: the watchdog waits for them
    /// rather than starting more (thread creation is slow on a loaded machine).
    private var starting = 0
    /// Workers may be started while fewer than this run: ``ceiling``, lowered
    /// to the workers running when a thread could not be created.
    private var limit = HolderExecutor.ceiling
    /// Guards the state above; signalled when work is queued for an idle worker.
    private let workAvailable = Condition()

    init() {}

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        workAvailable.lock()
        jobs.append((job, Condition.now()))
        var spawn = false, signal = false, watch = false
        // While fewer than the cores are running, wake an idle worker or start
        // one; past that, running workers take it as they finish (waking a
        // worker per job would bounce the CPU between the enqueuer and the
        // workers), or the watchdog wakes or adds one if they are stuck.
        if workers - idle + wakeups < Self.cores {
            if idle > wakeups {
                wakeups += 1
                signal = true
            } else if workers < limit {
                workers += 1
                starting += 1
                spawn = true
            }
        }
        if !watchdogRunning {
            watchdogRunning = true
            watch = true
        }
        workAvailable.unlock()
        if signal { workAvailable.signal() }
        if spawn { startWorker() }
        if watch && !DetachedThread.start(name: "daxmap-watchdog", { self.watch() }) {
            workAvailable.lock()
            watchdogRunning = false
            workAvailable.unlock()
        }
    }

    private func startWorker() {
        guard !DetachedThread.start(name: Self.workerName, { self.work() }) else { return }
        // No thread (EAGAIN: the thread limit; or no memory): grow no further.
        // The threads running now are what the process can afford; taking
        // more would leave it none to finish or exit with.
        workAvailable.lock()
        workers -= 1
        starting -= 1
        limit = max(1, min(limit, workers))
        workAvailable.unlock()
    }


    private func work() {
        workAvailable.lock()
        starting -= 1
        workAvailable.unlock()
        while let job = take() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The next job; nil once idle for ``idleSeconds`` (the worker then exits).
    private func take() -> UnownedJob? {
        workAvailable.lock()
        defer { workAvailable.unlock() }
        let deadline = Condition.deadline(after: Self.idleSeconds * 1_000_000_000)
        while head == jobs.count {
            idle += 1
            let signalled = workAvailable.wait(until: deadline)
            idle -= 1
            if wakeups > 0 { wakeups -= 1 }
            if !signalled && head == jobs.count {
                workers -= 1
                limit = Self.ceiling // calm again: a refused start may have been passing
                return nil
            }
        }
        let job = jobs[head].job
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        }
        return job
    }

    /// While jobs wait: when the oldest has waited a stall interval, wake an
    /// idle worker or add one. Exits when nothing waits.
    private func watch() {
        let pause = Duration.nanoseconds(Int64(Self.stallNanoseconds / 2))
        workAvailable.lock()
        while head < jobs.count {
            // Nothing to wake and no worker may be added: a worker that comes
            // free takes the waiting jobs itself; no need to poll for it.
            if idle <= wakeups && workers >= limit && starting == 0 { break }
            var spawn = false, signal = false
            if Condition.now() - jobs[head].queued >= Self.stallNanoseconds && starting == 0 {
                if idle > wakeups {
                    wakeups += 1
                    signal = true
                } else if wakeups == 0 && workers < limit {
                    workers += 1
                    starting += 1
                    spawn = true
                }
            }
            workAvailable.unlock()
            if signal { workAvailable.signal() }
            if spawn { startWorker() }
            Syscalls.sleep(pause)
            workAvailable.lock()
        }
        watchdogRunning = false
        workAvailable.unlock()
    }
}
