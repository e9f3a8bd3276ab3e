// Fault injection on emulated devices (inject.c): what DaxFaultInjector needs
// from C. Part of CDaxMap (included by CDaxMap.h); not API.
//
// An injected failure is a real fault: the injector maps an empty memfd
// MAP_FIXED over the chosen pages of a mapping (a "trap"), so the next access
// there raises a real SIGBUS BUS_ADRERR. The handler then asks this table
// whether the address is an injected failure of that mapping, and if so
// reports it as the injected kind (poison of that page, with si_addr_lsb of a
// page, or memory removed from that extent only) instead of "the file was
// truncated from here on".
#ifndef CDAXMAP_INJECT_H
#define CDAXMAP_INJECT_H

#ifdef __linux__

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Injected extents the table holds at once (over all mappings).
#define CDAXMAP_INJECT_CAPACITY 4096

// A trap the handler meets is flagged CDAXMAP_EVENT_INJECTED_POISON or
// CDAXMAP_EVENT_INJECTED_REMOVED in its record (CDaxMapFailure.h).

/// Records [lo, hi) of mapping `mapping_id` as injected with `kind`
/// (CDAXMAP_FAILED_POISON or CDAXMAP_FAILED_REMOVED). Call before mapping the
/// trap, so no access can meet the trap without the table knowing it. A later
/// entry wins over an earlier one at the same address. Returns the entry
/// (>= 0), -EINVAL, or -ENOSPC. Not async-signal-safe; callers serialise.
long cdaxmap_inject_add(uint64_t mapping_id, uintptr_t lo, uintptr_t hi, int kind);

/// Forgets entry `entry` (after the device's page is back). A negative entry is ignored.
void cdaxmap_inject_remove(long entry);

/// The kind of the newest injected entry of `mapping_id` containing `addr`,
/// with its bounds in `*lo`, `*hi`; 0 when there is none. Async-signal-safe, lock-free.
int cdaxmap_inject_lookup(uint64_t mapping_id, uintptr_t addr, uintptr_t *lo, uintptr_t *hi);

/// The process's trap file: an empty memfd (created once, close-on-exec).
/// A MAP_SHARED mapping of it has no page behind any address: every access is
/// a real SIGBUS BUS_ADRERR. Returns the descriptor or -errno.
int cdaxmap_inject_trap_fd(void);

/// Sends the calling thread SIGBUS BUS_MCEERR_AO for `addr` with
/// si_addr_lsb `addr_lsb` (rt_tgsigqueueinfo; the kernel lets a thread send
/// itself any si_code): one notice of a pre-remove storm, delivered before
/// the call returns. Returns 0 or -errno.
int cdaxmap_inject_notice(void *addr, int addr_lsb);

/// The testing product's installer. DaxMapTesting's loader (a constructor,
/// so linking the product is enough) registers it before main; DaxMap runs it
/// once, from Swift, before it first needs the testing hooks (an emulated
/// device's injected failures). Without the product nothing is registered and
/// the library has no injection code to run. Not for signal handlers.
void cdaxmap_testing_register(void (*install)(void));
void cdaxmap_testing_install(void);

#ifdef __cplusplus
}
#endif

#endif // __linux__
#endif // CDAXMAP_INJECT_H
