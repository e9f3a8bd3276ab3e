// The process-wide SIGBUS/SIGSEGV handler. Everything reachable from it is
// async-signal-safe: atomics, raw system calls, no allocation, no locks.
//
// What it decides, in order:
//  1. Forged (si_code <= 0: kill, sigqueue, tgkill): never acted on; chained (chain.c).
//  2. Not in the range table: a synchronous fault inside a recoverable routine
//     or an active guard over the address is caught (CDAXMAP_EVENT_UNREGISTERED:
//     its mapping was closed under it); a late asynchronous notice for a
//     retired range is absorbed; anything else is chained.
//  3. In a range: what failed (failure_of: the record's CDAXMAP_FAILED_*, the
//     one decision Swift's FailureCause reads), counted, marked (poison,
//     removed; a BUS_ADRERR on a trap of an injected failure, inject.c, as the
//     injected kind), then resumed at a fixup, longjmp'd to a guard, left to the
//     monitor (asynchronous notice), fatal (policy terminate) or replaced by
//     anonymous memory.
#define _GNU_SOURCE // gettid, REG_RIP
#include "CDaxMap.h"
#include "copy_mc.h"
#include "event_ring.h"
#include "guard.h"
#include "handler.h"
#include "range_table.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR 4
#endif
#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO 5
#endif

// The thread's innermost active guard (guard.h); initial-exec so the handler
// reads it without __tls_get_addr (which may allocate).
__thread struct cdaxmap_guard *cdaxmap_current_guard __attribute__((tls_model("initial-exec")));
#if CDAXMAP_HAVE_MC
__thread struct cdaxmap_fault cdaxmap_mc_fault __attribute__((tls_model("initial-exec")));
#endif
__thread int32_t cdaxmap_cached_tid __attribute__((tls_model("initial-exec")));

static _Atomic uint64_t forged_count, late_notices;

uint64_t cdaxmap_events_forged(void) { return atomic_load(&forged_count); }
uint64_t cdaxmap_events_late(void) { return atomic_load(&late_notices); }

_Atomic size_t cdaxmap_page_size = 4096; // set at install

// MARK: - Diagnostics

static void write_str(const char *s) {
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void write_hex(uint64_t v) {
    char buf[19] = "0x";
    int n = 2;
    int started = 0;
    for (int shift = 60; shift >= 0; shift -= 4) {
        int d = (int)((v >> shift) & 0xf);
        if (d || started || shift == 0) {
            buf[n++] = "0123456789abcdef"[d];
            started = 1;
        }
    }
    buf[n] = 0;
    write_str(buf);
}

static void die(int signo, const struct cdaxmap_fault *f) {
    write_str("daxmap: fatal ");
    write_str(signo == SIGBUS ? "SIGBUS" : "SIGSEGV");
    write_str(" code ");
    write_hex((uint64_t)(uint32_t)f->code);
    write_str(" at ");
    write_hex(f->address);
    write_str(" in mapping ");
    write_hex(f->mapping_id);
    write_str(" (policy terminate)\n");
    signal(signo, SIG_DFL);
    cdaxmap_set_interrupted_mask(NULL);
    raise(signo);
}

// MARK: - The record

static int asynchronous_notice(int signo, const siginfo_t *info) {
    return signo == SIGBUS && info->si_code == BUS_MCEERR_AO;
}

// What failed, from what the kernel said: decided here once per record
// (CDAXMAP_FAILED_*, CDaxMapFailure.h); Swift's FailureCause(record:) takes it
// as it is. The handler refines it where it knows more: a trap of an injected
// failure, an access to a revoked range, a guard whose slot was freed.
static uint32_t failure_of(int signo, const siginfo_t *info) {
    if (signo == SIGSEGV) return CDAXMAP_FAILED_REVOKED; // revoked and closed ranges are PROT_NONE
    switch (info->si_code) {
    case BUS_MCEERR_AR: return CDAXMAP_FAILED_POISON;
    case BUS_MCEERR_AO: return CDAXMAP_FAILED_POISON_NOTICE;
    case BUS_ADRERR: return CDAXMAP_FAILED_REMOVED;
    default: return CDAXMAP_FAILED_NONE;
    }
}

static void fill_event(struct cdaxmap_fault *f, int signo, const siginfo_t *info) {
    memset(f, 0, sizeof *f);
    f->address = (uint64_t)(uintptr_t)info->si_addr;
    f->signo = signo;
    f->code = info->si_code;
    f->addr_lsb = (signo == SIGBUS && (info->si_code == BUS_MCEERR_AR || info->si_code == BUS_MCEERR_AO))
                      ? info->si_addr_lsb : 0;
    f->failure = failure_of(signo, info);
    // No system call on the notice path: see wake_pending in event_ring.c.
    if (!cdaxmap_cached_tid && !asynchronous_notice(signo, info)) cdaxmap_cached_tid = (int32_t)syscall(SYS_gettid);
    f->tid = cdaxmap_cached_tid;
    // The failure belongs to the mappings issued by now, not to any made before it is drained.
    f->epoch = cdaxmap_epoch_now();
}

// Marks what failed in the hit's slot, as `f` says, so a guarded access right
// after the fault refuses it; a trap of an injected failure (inject.c) makes
// `f` that failure.
static void mark_failed(struct cdaxmap_fault *f, const struct range_hit *hit, uintptr_t addr) {
    if ((f->failure == CDAXMAP_FAILED_POISON || f->failure == CDAXMAP_FAILED_POISON_NOTICE)
        && f->addr_lsb > 0 && f->addr_lsb < 40) {
        // Poison: the kernel said this extent failed; never trust it again here.
        uintptr_t extent = (uintptr_t)1 << f->addr_lsb;
        uintptr_t lo = addr & ~(extent - 1);
        cdaxmap_rt_mark_hit(hit, CDAXMAP_FAILED_POISON, lo, lo + extent);
    } else if (f->failure == CDAXMAP_FAILED_REMOVED) {
        uintptr_t page = atomic_load_explicit(&cdaxmap_page_size, memory_order_relaxed);
        uintptr_t ilo, ihi;
        int injected = cdaxmap_inject_lookup(hit->mapping_id, addr, &ilo, &ihi);
        if (injected == CDAXMAP_FAILED_POISON) {
            // A trap of an injected media failure (inject.c): poison of this
            // page, reported with the page's si_addr_lsb as the kernel would.
            f->flags |= CDAXMAP_EVENT_INJECTED_POISON;
            f->failure = CDAXMAP_FAILED_POISON;
            f->addr_lsb = __builtin_ctzl(page);
            cdaxmap_rt_mark_hit(hit, CDAXMAP_FAILED_POISON, addr & ~(page - 1), (addr & ~(page - 1)) + page);
        } else if (injected == CDAXMAP_FAILED_REMOVED) {
            // A trap of injected removed memory: that extent is gone, not the rest.
            f->flags |= CDAXMAP_EVENT_INJECTED_REMOVED;
            cdaxmap_rt_mark_hit(hit, CDAXMAP_FAILED_REMOVED, ilo, ihi);
        } else {
            // No memory behind the page: past EOF of a truncated file everything
            // after it is gone too, and an unbound device is gone whole. One
            // extent to the end, however many pages fault after this one.
            cdaxmap_rt_mark_hit(hit, CDAXMAP_FAILED_REMOVED, addr & ~(page - 1), hit->end);
        }
    }
}

// MARK: - Guards and fixups

// Resumes a recoverable routine (copy_mc.c) at its fixup, which returns
// -EFAULT with `f` in the thread's cdaxmap_mc_fault. 0 if the fault is not in one.
static int resume_at_fixup(const struct cdaxmap_fault *f, void *context) {
#if CDAXMAP_HAVE_MC
    ucontext_t *uc = context;
    uintptr_t fixup = cdaxmap_mc_fixup_for((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    if (!fixup) return 0;
    cdaxmap_mc_fault = *f;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fixup;
    return 1; // sigreturn restores the mask
#else
    (void)f; (void)context;
    return 0;
#endif
}

// Pops `guard` and jumps to it with `f`.
__attribute__((noreturn)) static void jump_to_guard(struct cdaxmap_guard *guard, const struct cdaxmap_fault *f,
                                                    const void *context, int saved_errno) {
    guard->fault = *f;
    cdaxmap_current_guard = guard->previous;
    errno = saved_errno;
    cdaxmap_set_interrupted_mask(context); // the jump does not restore the mask (savemask 0)
    siglongjmp(guard->jump, 1);
}

// A guard catches a synchronous fault at its own addresses, or anywhere in a
// mapping it is accessing: poison is reported at the start of its extent
// (si_addr_lsb 21 on device-dax), which may lie before the copy's first byte.
static int guard_catches(const struct cdaxmap_guard *g, uintptr_t addr, const struct range_hit *hit) {
    if (cdaxmap_guard_covers(g, addr)) return 1;
    for (int i = 0; i < 2; i++) {
        if (g->hi[i] > g->lo[i] && g->lo[i] >= hit->start && g->lo[i] < hit->end) return 1;
    }
    return 0;
}

// A synchronous fault at an address no slot holds, inside a recoverable
// routine or a guard over that address: the guarded access's mapping was
// closed (its slot freed) under it, or the caller's own buffer faulted.
static void catch_unregistered(int signo, siginfo_t *info, void *context, int saved_errno) {
    struct cdaxmap_fault f;
    fill_event(&f, signo, info);
    f.flags = CDAXMAP_EVENT_GUARDED | CDAXMAP_EVENT_UNREGISTERED; // not pushed: nobody owns it
    f.failure = CDAXMAP_FAILED_REVOKED; // the access outlived its mapping's slot
    if (resume_at_fixup(&f, context)) return;
    struct cdaxmap_guard *guard = cdaxmap_current_guard;
    if (guard && cdaxmap_guard_covers(guard, (uintptr_t)info->si_addr)) jump_to_guard(guard, &f, context, saved_errno);
    cdaxmap_chain(signo, info, context);
}

// MARK: - The handler

void cdaxmap_handler(int signo, siginfo_t *info, void *context) {
    int saved_errno = errno;
    if (info->si_code <= 0) { // sent by a process, not raised by the kernel: never ours to act on
        atomic_fetch_add(&forged_count, 1);
        cdaxmap_chain(signo, info, context);
        errno = saved_errno;
        return;
    }
    uintptr_t addr = (uintptr_t)info->si_addr;
    int asynchronous = asynchronous_notice(signo, info);
    struct range_hit hit;
    if (!cdaxmap_rt_lookup(addr, &hit)) {
        if (!asynchronous) catch_unregistered(signo, info, context, saved_errno);
        else if (cdaxmap_rt_retired_contains(addr)) atomic_fetch_add(&late_notices, 1); // memory we let go of
        else cdaxmap_chain(signo, info, context);
        errno = saved_errno;
        return;
    }

    cdaxmap_rt_count_fault(&hit);
    struct cdaxmap_fault f;
    fill_event(&f, signo, info);
    f.mapping_id = hit.mapping_id;
    f.range_start = hit.start;
    mark_failed(&f, &hit, addr);
    if (hit.state == CDAXMAP_RANGE_REVOKED) {
        f.flags |= CDAXMAP_EVENT_REVOKED;
        // An access (not a notice) there touched the reservation, not the device.
        if (!asynchronous) f.failure = CDAXMAP_FAILED_REVOKED;
    }
    if (!asynchronous) {
        // A recoverable routine touches only the buffers it was given, so any
        // of our ranges here is one of them (or, for poison, the start of their extent).
        struct cdaxmap_fault guarded = f;
        guarded.flags |= CDAXMAP_EVENT_GUARDED;
        struct cdaxmap_guard *guard = cdaxmap_current_guard;
        int fixup = 0;
#if CDAXMAP_HAVE_MC
        fixup = cdaxmap_mc_fixup_for((uintptr_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP]) != 0;
#endif
        if (fixup || (guard && guard_catches(guard, addr, &hit))) {
            cdaxmap_ring_push(&guarded);
            if (fixup) {
                resume_at_fixup(&guarded, context);
                errno = saved_errno;
                return;
            }
            jump_to_guard(guard, &guarded, context, saved_errno);
        }
    } else {
        // A notice: the page is gone but nobody touched it yet. The monitor decides.
        cdaxmap_ring_push(&f);
        errno = saved_errno;
        return;
    }
    if (hit.policy == CDAXMAP_POLICY_TERMINATE) {
        f.flags |= CDAXMAP_EVENT_TERMINATE;
        cdaxmap_ring_push(&f);
        die(signo, &f);
        errno = saved_errno;
        return;
    }
    // Replace the failed extent with anonymous memory so the access resumes.
    size_t unit = hit.replace_unit;
    if (f.addr_lsb > 0 && f.addr_lsb < 40 && ((size_t)1 << f.addr_lsb) > unit) unit = (size_t)1 << f.addr_lsb;
    uintptr_t lo = addr & ~(uintptr_t)(unit - 1);
    if (lo < hit.start) lo = hit.start;
    uintptr_t hi = lo + unit;
    if (hi > hit.end) hi = hit.end;
    void *p = mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        f.flags |= CDAXMAP_EVENT_TERMINATE;
        cdaxmap_ring_push(&f);
        die(signo, &f);
    }
    f.flags |= CDAXMAP_EVENT_REPLACED;
    cdaxmap_rt_mark_hit(&hit, CDAXMAP_FAILED_LOST, lo, hi);
    f.lost_start = lo;
    f.lost_length = hi - lo;
    cdaxmap_ring_push(&f);
    errno = saved_errno;
}
