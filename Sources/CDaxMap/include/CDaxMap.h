// CDaxMap: the only C in daxmap. Not API: import DaxMap instead.
//
// What lives here is what Swift cannot do safely: a SIGBUS/SIGSEGV handler
// (no allocation, no locks, no Swift), the lock-free table of mapped ranges
// it reads, the event ring it writes, fault-guarded copies (recoverable asm
// routines on x86-64, copy_mc.c and copy_mc_avx.c; sigsetjmp/siglongjmp, which must never cross
// a Swift frame, elsewhere), and the cache flush instructions (CDaxMapFlush.h).
//
// Conventions: functions are cdaxmap_<object>_<verb>, return 0 or -errno,
// and pass results back through out-parameters; Swift never reads errno
// after a call into this file.
#ifndef CDAXMAP_H
#define CDAXMAP_H

#ifdef __linux__

#include <stddef.h>
#include <stdint.h>
#include "CDaxMapFailure.h"
#include "CDaxMapFlush.h"
#include "CDaxMapInject.h"
#include "CDaxMapExtents.h"

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Range table (range_table.c)

/// Capacity of the range table: mappings registered at once. A mapping holds
/// its slot while it is open or revoked; close() frees it at once.
#define CDAXMAP_RANGE_CAPACITY 8192

/// Failed extents one slot can record. Extents of one kind that touch or
/// overlap are coalesced into one; past this many, the whole range counts as
/// failed with the kind that did not fit (see cdaxmap_range_overflowed).
#define CDAXMAP_FAILED_CAPACITY 64

/// What the handler does with an unguarded fault in a range.
enum cdaxmap_policy {
    /// Map anonymous memory over the failed pages so the instruction resumes;
    /// the event is flagged `CDAXMAP_EVENT_REPLACED` and the range is lost.
    CDAXMAP_POLICY_REPLACE = 0,
    /// Write one diagnostic line with write(2), then die by the default action.
    CDAXMAP_POLICY_TERMINATE = 1,
};

/// Range states, published with release stores and read with acquire loads.
enum cdaxmap_range_state {
    CDAXMAP_RANGE_FREE = 0,
    CDAXMAP_RANGE_ACTIVE = 1,
    /// Replaced by a PROT_NONE reservation after a removal: addresses kept,
    /// contents gone; unguarded accesses are still replaced (the process lives).
    CDAXMAP_RANGE_REVOKED = 2,
    /// Being set up or torn down; the handler treats it as not ours.
    CDAXMAP_RANGE_BUSY = 3,
};

/// Epochs: the mapping ids issued so far. A mapping's id is the epoch it
/// began in; a failure's epoch is the newest id issued when it was observed
/// (the handler stamps each record, a mark raises its slot's). A failure
/// concerns only mappings with `id <= epoch`: one made later (a holder's
/// reattach over the same offsets) never takes an earlier failure for its own.

/// Issues the next mapping id (the first is 1; 0 means "no mapping"). Lock-free.
uint64_t cdaxmap_epoch_advance(void);

/// The newest mapping id issued (0 before the first). Async-signal-safe.
uint64_t cdaxmap_epoch_now(void);

/// Registers [start, start+length) as mapping `mapping_id`. `replace_unit` is
/// the size and alignment the handler uses to replace failed memory (the page
/// size, or the device alignment for device-dax). Returns the slot (>= 0) or
/// -ENOSPC. Not async-signal-safe; callers serialise registration.
/// Every (un)registration bumps the slot's generation (a seqlock), so a lookup
/// that raced with a reuse of the slot is detected and retried.
long cdaxmap_range_register(const void *start, size_t length, uint64_t mapping_id,
                            int policy, size_t replace_unit);

/// Marks a slot revoked (the range is a PROT_NONE reservation now).
void cdaxmap_range_set_revoked(long slot);

/// Frees a slot and remembers its range for late asynchronous notices. Called
/// when a mapping is closed (its range already PROT_NONE) or deinitialised
/// (before munmap), so the handler never matches reused addresses. Idempotent
/// for a slot the caller owns; a negative slot is ignored.
void cdaxmap_range_unregister(long slot);

// Kinds of untrusted extents: CDAXMAP_FAILED_POISON, _LOST, _REMOVED (CDaxMapFailure.h).

/// Marks [lo, hi) of `slot` failed with `kind`, as the handler does: coalesced
/// with extents of the same kind it touches or overlaps. From Swift, for a
/// failure re-derived after the fact (the lost tail of a truncated file).
/// Returns 0, or -ENOSPC when the slot had no room (it is then overflowed).
/// Async-signal-safe.
int cdaxmap_range_mark(long slot, int kind, uintptr_t lo, uintptr_t hi);

/// Whether [lo, hi) overlaps an extent marked failed in `slot`: 0, or the kind
/// with the extent in `*failed_lo`, `*failed_hi` (the whole range when the
/// slot overflowed). Marks are made in the handler itself, so a guarded access
/// right after a fault sees them. Lock-free.
int cdaxmap_range_check(long slot, uintptr_t lo, uintptr_t hi, uintptr_t *failed_lo, uintptr_t *failed_hi);

/// Copies up to `capacity` failed extents of `slot`; returns how many there
/// are in all (which may exceed `capacity`: call again with more room).
long cdaxmap_range_failed(long slot, int *kinds, uintptr_t *los, uintptr_t *his, long capacity);

/// The kind whose extent did not fit in the slot (the whole range is then
/// failed with it), or 0.
int cdaxmap_range_overflowed(long slot);

/// The epoch of the newest mark in `slot` (0: none): what was re-derived
/// from its marks concerns no mapping issued after it.
uint64_t cdaxmap_range_marked_epoch(long slot);

/// Faults the handler attributed to `slot` since it was registered, counted
/// even when the event ring was full: after drops, the mappings whose count
/// moved are the ones that faulted.
uint64_t cdaxmap_range_faults(long slot);

/// The mapping id of the active or revoked range that contains `addr`, as the
/// handler would find it; 0 when none does (for tests and diagnostics).
uint64_t cdaxmap_range_owner(const void *addr);

// MARK: - Fault events (event_ring.c)

// The record and its flags (struct cdaxmap_fault, CDAXMAP_EVENT_*) are in CDaxMapFailure.h.

/// Takes the oldest unread event from the ring. Returns 1 if one was taken,
/// 0 if the ring is empty. Single consumer (the monitor thread).
int cdaxmap_events_take(struct cdaxmap_fault *out);

/// Faults the handler could not record because the ring was full.
uint64_t cdaxmap_events_dropped(void);

/// Re-arms the wake-up: call before draining, so the next event writes the eventfd.
void cdaxmap_events_rearm(void);

/// The eventfd the handler writes after recording a fault; -1 before install.
int cdaxmap_sigbus_eventfd(void);

// MARK: - Handler (handler.c; chain.c, install.c)

/// Installs the process-wide SIGBUS and SIGSEGV handlers once
/// (SA_SIGINFO | SA_ONSTACK | SA_NODEFER, SIGBUS and SIGSEGV in sa_mask),
/// saving the previous actions to chain to for signals daxmap does not own,
/// and creates the wake-up eventfd. Idempotent and thread-safe. Returns 0 or -errno.
int cdaxmap_sigbus_install(void);

/// Which of daxmap's handlers another sigaction() has displaced since install:
/// a bit mask of CDAXMAP_DISPLACED_SIGBUS and CDAXMAP_DISPLACED_SIGSEGV, 0
/// when both are still daxmap's (or it was never installed).
#define CDAXMAP_DISPLACED_SIGBUS 0x1
#define CDAXMAP_DISPLACED_SIGSEGV 0x2
int cdaxmap_sigbus_displaced(void);

/// Puts daxmap's handler back in front of whatever is installed now, which
/// becomes what daxmap chains to (for an application that installed its own
/// handler after daxmap's). Returns 0 or -errno. Not async-signal-safe.
int cdaxmap_sigbus_reinstall(void);

/// Asynchronous memory-failure notices for ranges already released (late storm).
uint64_t cdaxmap_events_late(void);

/// Signals in daxmap's ranges or not that the kernel did not generate
/// (si_code <= 0: kill, sigqueue, tgkill): never acted on, chained as foreign.
uint64_t cdaxmap_events_forged(void);

/// Faults seen outside daxmap's ranges and chained to the previous handler
/// (forged signals included).
uint64_t cdaxmap_events_chained(void);

/// Times a chained action returned having replaced daxmap's handler with one
/// of its own (or SIG_IGN), and daxmap put its handler back in front (chain.c).
/// An action that left SIG_DFL for a signal that does not recur (a sent one)
/// is not counted: the process then dies of the signal by its default action.
uint64_t cdaxmap_events_rearmed(void);

// MARK: - Threads (altstack.c)

/// Ensures the calling thread has an alternate signal stack (allocated once per
/// thread, freed at thread exit). Cheap after the first call on a thread.
int cdaxmap_thread_prepare(void);

/// Names the calling thread (at most 15 bytes are kept), for `ps -L` and
/// debuggers: pthread_setname_np, which Swift's Glibc does not export. 0 or -errno.
int cdaxmap_thread_set_name(const char *name);

/// The calling thread's name into `buffer` (at least 16 bytes). 0 or -errno.
int cdaxmap_thread_get_name(char *buffer, size_t size);

// MARK: - Guarded access (copy.c, copy_mc.c, copy_mc_avx.c)

/// Copies `length` bytes; a SIGBUS/SIGSEGV inside [dst, dst+length) or
/// [src, src+length) that belongs to a registered range (or, synchronous, to
/// no range: CDAXMAP_EVENT_UNREGISTERED) returns -EFAULT with the fault in
/// `*fault` instead of killing the process. `nontemporal` selects streaming
/// stores (the destination then needs only a drain, not a flush; x86-64 only,
/// ordinary stores elsewhere).
int cdaxmap_copy_guarded(void *dst, const void *src, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault);

/// Copies `length` bytes out of a mapping into ordinary memory, guarded as
/// cdaxmap_copy_guarded, with ordinary stores (AVX moves where they are faster).
int cdaxmap_read_guarded(void *dst, const void *src, size_t length, struct cdaxmap_fault *fault);

/// The widest moves guarded copies and fills use: 2 AVX-512, 1 AVX, 0 SSE2
/// (x86-64; what the CPU and OS allow, found once). `limit` >= 0 caps it, so
/// tests and benchmarks can run each path; -1 only asks. Returns the width now in use.
int cdaxmap_copy_vectors(int limit);

/// Fills `length` bytes with `value`, guarded as cdaxmap_copy_guarded.
int cdaxmap_fill_guarded(void *dst, int value, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault);

/// Flushes [addr, addr+length) with `kind` (enum cdaxmap_flush_kind) and
/// drains with sfence, guarded as cdaxmap_copy_guarded: flushing a line of a
/// removed device faults like a load.
int cdaxmap_flush_guarded(int kind, const void *addr, size_t length, struct cdaxmap_fault *fault);

/// Runs `body(context)` under a sigsetjmp guard over [addr, addr+length): a
/// synchronous fault there returns -EFAULT with the fault in `*fault`; else
/// the body's result. For system calls that fault on purpose (MADV_HWPOISON)
/// and for test raisers, which live outside the production shim. `body` must
/// be C (a siglongjmp must never cross a Swift frame).
int cdaxmap_call_guarded(int (*body)(void *context), void *context, const void *addr, size_t length,
                         struct cdaxmap_fault *fault);

/// madvise(MADV_HWPOISON) on [addr, addr+length) inside a guard: the kernel
/// raises SIGBUS BUS_MCEERR_AR during the call, which returns -EFAULT with the
/// fault. 0 if no signal came, -errno if madvise refused (EINVAL without
/// CONFIG_MEMORY_FAILURE, EPERM without CAP_SYS_ADMIN, -CDAXMAP_EHWPOISON when
/// the page was poisoned and the kernel signalled asynchronously).
#define CDAXMAP_EHWPOISON 133
int cdaxmap_poison_guarded(void *addr, size_t length, struct cdaxmap_fault *fault);

// MARK: - Files

/// major(3) and minor(3) of a device number (macros in glibc).
unsigned int cdaxmap_dev_major(uint64_t dev);
unsigned int cdaxmap_dev_minor(uint64_t dev);

/// Whether the file is accessed with DAX (statx STATX_ATTR_DAX, Linux 5.8):
/// 1, 0, or -errno (-ENOSYS where the headers lack it).
int cdaxmap_file_is_dax(int fd);

/// An anonymous memory file (memfd_create, close-on-exec): the "CPU cache" of a
/// simulated persistence domain. Returns the descriptor or -errno.
int cdaxmap_memfd(const char *name);

/// pidfd_open(2) (close-on-exec since the kernel makes it so): a descriptor that
/// polls readable when the process exits; -errno on failure (ENOSYS before 5.3).
int cdaxmap_pidfd_open(int pid);

#ifdef __cplusplus
}
#endif

#endif // __linux__
#endif // CDAXMAP_H
