import CDaxmapCLI
import DaxMapSync

/// SIGINT/SIGTERM for long-running commands (`demo`, `watch`, `crash-test`):
/// the handler (C, `stop_signals.c`) only writes the signal number to a pipe;
/// a thread of its own reads it, runs the command's cleanup (remove temporary
/// files, print the summary) and exits with the status the cleanup returns.
enum SignalStop {
    private static let cleanup = Locked<(@Sendable (CInt) -> Int32)?>(nil)

    /// `onSignal` gets the signal and returns the exit status. Without a stop
    /// thread (no thread or pipe to be had) the signals keep their default
    /// action: the command dies of them, as it would without daxmap.
    static func install(_ onSignal: @escaping @Sendable (CInt) -> Int32) {
        cleanup.withLock { $0 = onSignal }
        _ = daxmap_cli_stop_install { sig in
            SignalStop.cleanup.withLock { $0 }?(sig) ?? 128 + sig
        }
    }

    /// Replaces the cleanup (as a command learns what to clean).
    static func update(_ onSignal: @escaping @Sendable (CInt) -> Int32) {
        cleanup.withLock { $0 = onSignal }
    }
}
