#ifndef CDAXMAP_CLI_H
#define CDAXMAP_CLI_H

/// Called on the stop thread (ordinary code, never in a signal handler) with
/// the signal that asked the command to stop; returns the exit status.
typedef int (*daxmap_cli_stop_fn)(int sig);

/// SIGINT and SIGTERM for the CLI's long-running commands: the handlers only
/// write the signal number to a pipe (async-signal-safe); a thread of its own
/// reads it, calls `on_stop`, flushes stdio and `_exit`s with the status it
/// returned. Returns 0, or -1 with errno set (nothing installed).
int daxmap_cli_stop_install(daxmap_cli_stop_fn on_stop);

#endif
