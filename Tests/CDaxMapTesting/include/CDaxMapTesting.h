// CDaxMapTesting: C support for daxmap's tests and its probe child process.
// Never linked by the library: signal raisers that a production shim must not
// carry, and stress drivers that need C threads and C signal handlers.
#ifndef CDAXMAP_TESTING_H
#define CDAXMAP_TESTING_H

#ifdef __linux__

#include <stddef.h>
#include <stdint.h>
#include <CDaxMap.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sends SIGBUS to the calling thread with the given (positive, kernel-like)
/// si_code, si_addr and si_addr_lsb through rt_tgsigqueueinfo: a thread may
/// send itself any si_code. Memory-failure classification on kernels without
/// CONFIG_MEMORY_FAILURE. Returns 0 or -errno.
int cdaxmap_test_raise_sigbus(int code, void *addr, int addr_lsb);

/// As cdaxmap_test_raise_sigbus, inside cdaxmap_call_guarded over [addr, addr+1):
/// the handler's guard path. Returns -EFAULT with `*fault` when it caught it.
int cdaxmap_test_raise_sigbus_guarded(int code, void *addr, int addr_lsb, struct cdaxmap_fault *fault);

/// Sends a forged `signo` (a user-sent signal: `code` <= 0, e.g. SI_QUEUE -1)
/// with si_addr `addr`: to the calling thread through rt_tgsigqueueinfo, or to
/// the process through rt_sigqueueinfo when `process_wide`. Returns 0 or -errno.
int cdaxmap_test_forge_signal(int signo, int code, void *addr, int process_wide);

/// The seqlock stress: one thread registers range A (id `CDAXMAP_TEST_ID_A`)
/// and range B (`CDAXMAP_TEST_ID_B`) alternately, unregistering in between (so
/// both reuse the same slot), while another asks cdaxmap_range_owner for an
/// address inside A. The writer interrupts the reader with a signal whose
/// handler spins, so a lookup is often suspended mid-read while the slot is
/// recycled (the window widened here, not in the shim). Runs `milliseconds`;
/// returns how many lookups named B for an address in A (the defect), with the
/// number of lookups and of A/B cycles in the out-parameters.
#define CDAXMAP_TEST_ID_A 0x0aba000000000001ull
#define CDAXMAP_TEST_ID_B 0x0aba000000000002ull
long cdaxmap_test_aba_stress(unsigned milliseconds, uint64_t *lookups, uint64_t *cycles);

/// A load of one byte at `addr` inside cdaxmap_call_guarded over [addr, addr+1):
/// the sigsetjmp guard path from C. Returns 0, or -EFAULT with `*fault`.
int cdaxmap_test_guarded_load(const void *addr, struct cdaxmap_fault *fault);

/// Installs a SIGBUS/SIGSEGV action (`signo`) that counts what it gets and
/// returns: for a forged signal that is harmless. A kernel-raised fault it
/// must not return into (it would fault again forever): it restores SIG_DFL
/// first, so the fault kills the process visibly. Returns 0 or -errno.
int cdaxmap_test_install_recorder(int signo);
/// Installs a `signo` action that, like the Swift runtime's crash handler,
/// resets the disposition (SIG_DFL, or SIG_IGN when `ignore`) and returns,
/// counted with the recorder's counters. Returns 0 or -errno.
int cdaxmap_test_install_resetter(int signo, int ignore);
/// Signals the recorder got, and the si_code of the last one.
uint64_t cdaxmap_test_recorded(void);
int cdaxmap_test_recorded_code(void);

/// A guarded copy racing the close of its mapping, `iterations` times: a
/// thread copies from a registered range in a loop while another makes it a
/// PROT_NONE reservation and unregisters it (as close() does), in either
/// order. Every copy must end in -EFAULT attributed to the range or flagged
/// CDAXMAP_EVENT_UNREGISTERED (a crash ends the test process). Returns how
/// many ended otherwise; `*unregistered` counts the UNREGISTERED ones.
long cdaxmap_test_close_race(unsigned iterations, long *unregistered);

#ifdef __cplusplus
}
#endif

#endif // __linux__
#endif // CDAXMAP_TESTING_H
