import ArgumentParser
import DaxMap
import Glibc

/// Prints a DaxError as one line on stderr ("daxmap: ...") and exits non-zero.
func fail(_ error: DaxError) -> ExitCode {
    printError("daxmap: \(error)")
    return ExitCode(1)
}

func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { buffer in _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count) }
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
