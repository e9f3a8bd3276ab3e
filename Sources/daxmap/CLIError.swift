import ArgumentParser
import DaxMap
import Glibc

/// Prints a DaxError as one line on stderr ("daxmap: ...") and exits non-zero.
func fail(_ error: DaxError) -> ExitCode {
    printError("daxmap: \(error)")
    return ExitCode(1)
}

/// Prints a DaxError about the command line (an option's value) and exits 64,
/// as ArgumentParser does for the arguments it checks itself.
func usageError(_ error: DaxError) -> ExitCode {
    printError("daxmap: \(error)")
    return ExitCode(64)
}

func printError(_ line: String) {
    // Nowhere to report a failure to write the report: ignored.
    _ = Array((line + "\n").utf8).withUnsafeBytes { Syscalls.writeAll(STDERR_FILENO, $0) }
}

/// Prints to stdout and flushes at once (output may be a pipe read live).
func printLine(_ line: String) {
    print(line)
    fflush(nil) // all streams: stdout may be a pipe read live
}

/// Closures through Array.withUnsafe*Bytes rethrow untyped; every error thrown
/// inside them here is a DaxError.
func asDaxError(_ error: any Error) -> DaxError {
    error as? DaxError ?? DaxError(.system, operation: "daxmap", message: "\(error)")
}
