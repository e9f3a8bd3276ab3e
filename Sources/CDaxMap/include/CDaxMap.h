// CDaxMap: the only C in daxmap. Not API: import DaxMap instead.
//
// What lives here is what Swift cannot do safely: a SIGBUS/SIGSEGV handler
// (no allocation, no locks, no Swift), the lock-free table of mapped ranges
// it reads, the event ring it writes, fault-guarded copies (recoverable asm
// routines on x86-64, copy_mc.c; sigsetjmp/siglongjmp, which must never cross
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
#include "CDaxMapFlush.h"

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Range table

/// Capacity of the range table: the number of mappings registered at once.
#define CDAXMAP_RANGE_CAPACITY 8192

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
    /// Replaced by a PROT_NONE reservation: addresses kept, contents gone.
    CDAXMAP_RANGE_REVOKED = 2,
    /// Being set up or torn down; the handler treats it as not ours.
    CDAXMAP_RANGE_BUSY = 3,
};

/// Registers [start, start+length) as mapping `mapping_id`. `replace_unit` is
/// the size and alignment the handler uses to replace failed memory (the page
/// size, or the device alignment for device-dax). Returns the slot (>= 0) or
/// -ENOSPC. Not async-signal-safe; callers serialise registration.
long cdaxmap_range_register(const void *start, size_t length, uint64_t mapping_id,
                            int policy, size_t replace_unit);

/// Marks a slot revoked (the range is a PROT_NONE reservation now).
void cdaxmap_range_set_revoked(long slot);

/// Frees a slot. Call before munmap so the handler never matches reused addresses.
void cdaxmap_range_unregister(long slot);

/// Kinds of untrusted extents in a range.
#define CDAXMAP_FAILED_POISON 1 ///< the kernel reported a memory failure (BUS_MCEERR_AR/AO)
#define CDAXMAP_FAILED_LOST 2   ///< replaced by anonymous memory after an unguarded fault

/// Whether [lo, hi) overlaps an extent the handler marked untrusted in `slot`:
/// 0, or the kind with the extent in `*failed_lo`, `*failed_hi`. Marks are made
/// in the handler itself, so a guarded access right after a fault sees them.
int cdaxmap_range_check(long slot, uintptr_t lo, uintptr_t hi, uintptr_t *failed_lo, uintptr_t *failed_hi);

/// Copies up to `capacity` untrusted extents of `slot`; returns how many.
long cdaxmap_range_failed(long slot, int *kinds, uintptr_t *los, uintptr_t *his, long capacity);

/// The mapping id of the active or revoked range that contains `addr`, as the
/// handler would find it; 0 when none does (for tests and diagnostics).
uint64_t cdaxmap_range_owner(const void *addr);

// MARK: - Fault events

/// Event flags.
#define CDAXMAP_EVENT_GUARDED 0x1u   ///< raised inside a guarded access, which threw
#define CDAXMAP_EVENT_REPLACED 0x2u  ///< failed pages replaced by anonymous memory
#define CDAXMAP_EVENT_REVOKED 0x4u   ///< the range had been revoked
#define CDAXMAP_EVENT_TERMINATE 0x8u ///< policy terminate (never drained: the process dies)

/// One fault as the handler saw it. Mirrored in Swift as `FaultRecord`.
struct cdaxmap_fault {
    uint64_t sequence;     ///< process-wide order of faults
    uint64_t mapping_id;   ///< from the range table
    uint64_t address;      ///< si_addr
    uint64_t range_start;  ///< start of the registered range that contains it
    uint64_t lost_start;   ///< replaced range (CDAXMAP_EVENT_REPLACED), else 0
    uint64_t lost_length;
    int32_t signo;         ///< SIGBUS or SIGSEGV
    int32_t code;          ///< si_code: BUS_ADRERR, BUS_MCEERR_AR, BUS_MCEERR_AO, SEGV_ACCERR...
    int32_t addr_lsb;      ///< si_addr_lsb (log2 of the failed extent) for MCEERR, else 0
    int32_t tid;           ///< thread that took the signal
    uint32_t flags;        ///< CDAXMAP_EVENT_*
    uint32_t reserved;
};

/// Installs the process-wide SIGBUS and SIGSEGV handlers once
/// (SA_SIGINFO | SA_ONSTACK | SA_NODEFER), saving the previous actions to chain
/// to for addresses daxmap does not own, and creates the wake-up eventfd.
/// Idempotent and thread-safe. Returns 0 or -errno.
int cdaxmap_sigbus_install(void);

/// The eventfd the handler writes after recording a fault; -1 before install.
int cdaxmap_sigbus_eventfd(void);

/// Takes the oldest unread event from the ring. Returns 1 if one was taken,
/// 0 if the ring is empty. Single consumer (the monitor thread).
int cdaxmap_events_take(struct cdaxmap_fault *out);

/// Faults the handler could not record because the ring was full.
uint64_t cdaxmap_events_dropped(void);

/// Re-arms the wake-up: call before draining, so the next event writes the eventfd.
void cdaxmap_events_rearm(void);

/// Asynchronous memory-failure notices for ranges already released (late storm).
uint64_t cdaxmap_events_late(void);

/// Faults seen outside daxmap's ranges and chained to the previous handler.
uint64_t cdaxmap_events_chained(void);

/// Ensures the calling thread has an alternate signal stack (allocated once per
/// thread, freed at thread exit). Cheap after the first call on a thread.
int cdaxmap_thread_prepare(void);

// MARK: - Guarded access

/// Copies `length` bytes; a SIGBUS/SIGSEGV inside [dst, dst+length) or
/// [src, src+length) that belongs to a registered range returns -EFAULT with
/// the fault in `*fault` instead of killing the process. `nontemporal` selects
/// streaming stores (the destination then needs only a drain, not a flush;
/// x86-64 only, ordinary stores elsewhere).
int cdaxmap_copy_guarded(void *dst, const void *src, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault);

/// Fills `length` bytes with `value`, guarded as cdaxmap_copy_guarded.
int cdaxmap_fill_guarded(void *dst, int value, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault);

/// Flushes [addr, addr+length) with `kind` (enum cdaxmap_flush_kind) and
/// drains with sfence, guarded as cdaxmap_copy_guarded: flushing a line of a
/// removed device faults like a load.
int cdaxmap_flush_guarded(int kind, const void *addr, size_t length, struct cdaxmap_fault *fault);

/// madvise(MADV_HWPOISON) on [addr, addr+length) inside a guard: the kernel
/// raises SIGBUS BUS_MCEERR_AR during the call, which returns -EFAULT with the
/// fault. 0 if no signal came, -errno if madvise refused (EINVAL without
/// CONFIG_MEMORY_FAILURE, EPERM without CAP_SYS_ADMIN).
int cdaxmap_poison_guarded(void *addr, size_t length, struct cdaxmap_fault *fault);

// MARK: - Files

/// major(3) and minor(3) of a device number (macros in glibc).
unsigned int cdaxmap_dev_major(uint64_t dev);
unsigned int cdaxmap_dev_minor(uint64_t dev);

/// Whether the file is accessed with DAX (statx STATX_ATTR_DAX, Linux 5.8):
/// 1, 0, or -errno (-ENOSYS where the headers lack it).
int cdaxmap_file_is_dax(int fd);

/// Sends SIGBUS to the calling thread with the given si_code, si_addr and
/// si_addr_lsb through rt_tgsigqueueinfo. Test support for memory-failure
/// classification on kernels without CONFIG_MEMORY_FAILURE.
int cdaxmap_test_raise_sigbus(int code, void *addr, int addr_lsb);

/// As cdaxmap_test_raise_sigbus, from inside a guard over [addr, addr+1): the
/// real handler's longjmp path. Returns -EFAULT with `*fault` when it caught it.
int cdaxmap_test_raise_sigbus_guarded(int code, void *addr, int addr_lsb, struct cdaxmap_fault *fault);

#ifdef __cplusplus
}
#endif

#endif // __linux__
#endif // CDAXMAP_H
