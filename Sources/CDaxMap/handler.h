// Private to the shim: what the handler (handler.c), the chaining to the
// actions it displaced (chain.c) and its installation (install.c) share.
#ifndef CDAXMAP_HANDLER_H
#define CDAXMAP_HANDLER_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/// The calling thread's id, cached so the handler's notice path (a storm of
/// asynchronous SIGBUS) makes no system call. 0 until cached.
extern __thread int32_t cdaxmap_cached_tid __attribute__((tls_model("initial-exec")));

/// The process-wide SIGBUS/SIGSEGV action (handler.c).
void cdaxmap_handler(int signo, siginfo_t *info, void *context);

/// The page size, set at install; the handler reads it without a system call.
extern _Atomic size_t cdaxmap_page_size;

/// Hands a signal that is not daxmap's to the action it displaced, exactly as
/// that was installed (chain.c). Async-signal-safe.
void cdaxmap_chain(int signo, siginfo_t *info, void *context);

/// Fills in daxmap's SIGBUS/SIGSEGV action (install.c). Async-signal-safe.
void cdaxmap_our_action(struct sigaction *action);

/// Publishes `action` as what daxmap chains to for `signo` (chain.c); the
/// handler never reads a half-written one. Called under the install lock.
void cdaxmap_chain_publish(int signo, const struct sigaction *action);

/// What was installed before daxmap, per signal ([0] SIGBUS, [1] SIGSEGV):
/// written once at install, read when a chain target calls daxmap back.
extern struct sigaction cdaxmap_original_actions[2];

/// Restores the mask of the code the signal interrupted (`context`), or
/// unblocks SIGBUS and SIGSEGV when there is none: for every path that leaves
/// the handler other than by returning. Async-signal-safe.
void cdaxmap_set_interrupted_mask(const void *context);

#endif
