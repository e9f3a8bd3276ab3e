// The process-wide SIGBUS/SIGSEGV handler. Everything reachable from it is
// async-signal-safe: atomics, raw system calls, no allocation, no locks.
//
// What it decides, in order:
//  1. Forged (si_code <= 0: kill, sigqueue, tgkill): never acted on; chained.
//  2. Not in the range table: a synchronous fault inside a recoverable routine
//     or an active guard over the address is caught (CDAXMAP_EVENT_UNREGISTERED:
//     its mapping was closed under it); a late asynchronous notice for a
//     retired range is absorbed; anything else is chained.
//  3. In a range: counted, marked (poison, removed; a BUS_ADRERR on a trap of an
//     injected failure, inject.c, as the injected kind), then resumed at a fixup,
//     longjmp'd to a guard, left to the monitor (asynchronous notice), fatal
//     (policy terminate) or replaced by anonymous memory.
#define _GNU_SOURCE // gettid, REG_RIP, sigorset
#include "CDaxMap.h"
#include "copy_mc.h"
#include "event_ring.h"
#include "guard.h"
#include "handler.h"
#include "range_table.h"

#include <errno.h>
#include <pthread.h>
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

static _Atomic uint64_t chained_count, forged_count, late_notices;

uint64_t cdaxmap_events_chained(void) { return atomic_load(&chained_count); }
uint64_t cdaxmap_events_forged(void) { return atomic_load(&forged_count); }
uint64_t cdaxmap_events_late(void) { return atomic_load(&late_notices); }

static _Atomic size_t page_size = 4096; // set at install

// MARK: - Chain targets

// What daxmap chains to, per signal: two copies and a version whose low bit
// names the current one. reinstall writes the other copy, then bumps the
// version (release); the handler reads version, copy, version again and
// retries on a change, so it never acts on a half-written struct sigaction.
struct chain_target {
    _Atomic unsigned version;
    struct sigaction copies[2];
};
static struct chain_target chain_targets[2]; // [0] SIGBUS, [1] SIGSEGV
// What was installed before daxmap: used when the current target calls
// daxmap's handler back (it had saved daxmap as its own previous).
static struct sigaction original_actions[2];

static int signal_index(int signo) { return signo == SIGSEGV; }

static void publish_target(int signo, const struct sigaction *action) {
    struct chain_target *t = &chain_targets[signal_index(signo)];
    unsigned v = atomic_load_explicit(&t->version, memory_order_relaxed);
    t->copies[(v + 1) & 1] = *action;
    atomic_store_explicit(&t->version, v + 1, memory_order_release);
}

static void read_target(int signo, struct sigaction *out) {
    struct chain_target *t = &chain_targets[signal_index(signo)];
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned v = atomic_load_explicit(&t->version, memory_order_acquire);
        *out = t->copies[v & 1];
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&t->version, memory_order_relaxed) == v) return;
    }
}

// MARK: - Signal masks

// A pre-remove storm keeps a SIGBUS pending nearly all the time, and the
// kernel delivers the next pending signal before the handler runs a single
// instruction: had SA_NODEFER its way, frames would pile up until the signal
// stack overflows. So sa_mask blocks SIGBUS and SIGSEGV while the handler runs
// (SA_NODEFER only keeps the signal itself out of the mask). A normal return
// restores the interrupted mask from the signal frame; every path that leaves
// otherwise sets the mask itself: a guard's siglongjmp (savemask 0) restores
// the interrupted mask, chaining sets the mask the chained action would have
// had from the kernel, dying unblocks the signal.
static void set_interrupted_mask(const void *context) {
    if (context) {
        pthread_sigmask(SIG_SETMASK, &((const ucontext_t *)context)->uc_sigmask, NULL);
    } else {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGBUS);
        sigaddset(&set, SIGSEGV);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
}

// The mask the kernel gives `action`'s handler: the interrupted mask, its
// sa_mask, and the signal itself unless SA_NODEFER; set in one call, so a
// pending SIGBUS cannot slip in between.
static void set_mask_for(int signo, const struct sigaction *action, const void *context) {
    if (!context) {
        set_interrupted_mask(NULL);
        return;
    }
    sigset_t set;
    sigorset(&set, &((const ucontext_t *)context)->uc_sigmask, &action->sa_mask);
    if (!(action->sa_flags & SA_NODEFER)) sigaddset(&set, signo);
    pthread_sigmask(SIG_SETMASK, &set, NULL);
}

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
    set_interrupted_mask(NULL);
    raise(signo);
}

// MARK: - Chaining

// The signal this thread is handing to a chain target right now: if that
// target calls daxmap's handler with it again (it saved daxmap as its own
// previous action before a reinstall), daxmap goes on down the chain instead
// of back up. A target that never returns leaves it set; only a later signal
// whose siginfo sits at the very same address is then misread as a call-back,
// and goes to the original action instead of the current target.
static __thread const siginfo_t *chaining_info __attribute__((tls_model("initial-exec")));
static __thread int chaining_depth __attribute__((tls_model("initial-exec")));

static void call_action(int signo, const struct sigaction *action, siginfo_t *info, void *context) {
    const siginfo_t *outer_info = chaining_info;
    int outer_depth = chaining_depth;
    chaining_info = info;
    chaining_depth = outer_depth + 1;
    set_mask_for(signo, action, context);
    if (action->sa_flags & SA_SIGINFO) action->sa_sigaction(signo, info, context);
    else action->sa_handler(signo);
    chaining_info = outer_info;
    chaining_depth = outer_depth;
}

// Hands a signal that is not ours to whoever had it before us, exactly as they
// installed it; for SIG_DFL, restore and let the fault (or a re-raise) take effect.
static void chain(int signo, siginfo_t *info, void *context) {
    atomic_fetch_add(&chained_count, 1);
    struct sigaction target;
    memset(&target, 0, sizeof target); // SIG_DFL
    int depth = chaining_info == info ? chaining_depth : 0;
    if (depth == 0) read_target(signo, &target);
    else if (depth == 1) target = original_actions[signal_index(signo)];
    // deeper: the chain loops; end it with the default action
    // sa_handler and sa_sigaction share storage: SIG_DFL and SIG_IGN read the same through either.
    if (target.sa_handler == SIG_IGN) return;
    if (target.sa_handler != SIG_DFL) {
        call_action(signo, &target, info, context);
        return;
    }
    // SIG_DFL: a real fault re-executes the access and dies; a sent signal must be raised again.
    signal(signo, SIG_DFL);
    set_interrupted_mask(NULL);
    if (info->si_code <= 0 || info->si_code == BUS_MCEERR_AO) raise(signo);
}

// MARK: - The handler

static int asynchronous_notice(int signo, const siginfo_t *info) {
    return signo == SIGBUS && info->si_code == BUS_MCEERR_AO;
}

static void fill_event(struct cdaxmap_fault *f, int signo, const siginfo_t *info) {
    memset(f, 0, sizeof *f);
    f->address = (uint64_t)(uintptr_t)info->si_addr;
    f->signo = signo;
    f->code = info->si_code;
    f->addr_lsb = (signo == SIGBUS && (info->si_code == BUS_MCEERR_AR || info->si_code == BUS_MCEERR_AO))
                      ? info->si_addr_lsb : 0;
    // No system call on the notice path: see wake_pending in event_ring.c.
    if (!cdaxmap_cached_tid && !asynchronous_notice(signo, info)) cdaxmap_cached_tid = (int32_t)syscall(SYS_gettid);
    f->tid = cdaxmap_cached_tid;
    // The failure belongs to the mappings issued by now, not to any made before it is drained.
    f->epoch = cdaxmap_epoch_now();
}

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
    set_interrupted_mask(context); // the jump does not restore the mask (savemask 0)
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
    if (resume_at_fixup(&f, context)) return;
    struct cdaxmap_guard *guard = cdaxmap_current_guard;
    if (guard && cdaxmap_guard_covers(guard, (uintptr_t)info->si_addr)) jump_to_guard(guard, &f, context, saved_errno);
    chain(signo, info, context);
}

static void handler(int signo, siginfo_t *info, void *context) {
    int saved_errno = errno;
    if (info->si_code <= 0) { // sent by a process, not raised by the kernel: never ours to act on
        atomic_fetch_add(&forged_count, 1);
        chain(signo, info, context);
        errno = saved_errno;
        return;
    }
    uintptr_t addr = (uintptr_t)info->si_addr;
    int asynchronous = asynchronous_notice(signo, info);
    struct range_hit hit;
    if (!cdaxmap_rt_lookup(addr, &hit)) {
        if (!asynchronous) catch_unregistered(signo, info, context, saved_errno);
        else if (cdaxmap_rt_retired_contains(addr)) atomic_fetch_add(&late_notices, 1); // memory we let go of
        else chain(signo, info, context);
        errno = saved_errno;
        return;
    }

    cdaxmap_rt_count_fault(&hit);
    struct cdaxmap_fault f;
    fill_event(&f, signo, info);
    f.mapping_id = hit.mapping_id;
    f.range_start = hit.start;
    if (hit.state == CDAXMAP_RANGE_REVOKED) f.flags |= CDAXMAP_EVENT_REVOKED;

    if (f.addr_lsb > 0 && f.addr_lsb < 40) {
        // Poison: the kernel said this extent failed; never trust it again here.
        uintptr_t extent = (uintptr_t)1 << f.addr_lsb;
        uintptr_t lo = addr & ~(extent - 1);
        cdaxmap_rt_mark_hit(&hit, CDAXMAP_FAILED_POISON, lo, lo + extent);
    } else if (signo == SIGBUS && info->si_code == BUS_ADRERR) {
        uintptr_t page = atomic_load_explicit(&page_size, memory_order_relaxed);
        uintptr_t ilo, ihi;
        int injected = cdaxmap_inject_lookup(hit.mapping_id, addr, &ilo, &ihi);
        if (injected == CDAXMAP_FAILED_POISON) {
            // A trap of an injected media failure (inject.c): poison of this
            // page, reported with the page's si_addr_lsb as the kernel would.
            f.flags |= CDAXMAP_EVENT_INJECTED_POISON;
            f.addr_lsb = __builtin_ctzl(page);
            cdaxmap_rt_mark_hit(&hit, CDAXMAP_FAILED_POISON, addr & ~(page - 1), (addr & ~(page - 1)) + page);
        } else if (injected == CDAXMAP_FAILED_REMOVED) {
            // A trap of injected removed memory: that extent is gone, not the rest.
            f.flags |= CDAXMAP_EVENT_INJECTED_REMOVED;
            cdaxmap_rt_mark_hit(&hit, CDAXMAP_FAILED_REMOVED, ilo, ihi);
        } else {
            // No memory behind the page: past EOF of a truncated file everything
            // after it is gone too, and an unbound device is gone whole. One
            // extent to the end, however many pages fault after this one.
            cdaxmap_rt_mark_hit(&hit, CDAXMAP_FAILED_REMOVED, addr & ~(page - 1), hit.end);
        }
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

// MARK: - Installation

static _Atomic int installed;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static void our_action(struct sigaction *action) {
    memset(action, 0, sizeof *action);
    action->sa_sigaction = handler;
    // SA_NODEFER: a chained crash handler (the Swift backtracer) and a
    // re-fault under SIG_DFL must see the signal unblocked; sa_mask still
    // blocks both while daxmap's own code runs (see set_interrupted_mask).
    action->sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action->sa_mask);
    sigaddset(&action->sa_mask, SIGBUS);
    sigaddset(&action->sa_mask, SIGSEGV);
}

static int is_ours(const struct sigaction *action) {
    return (action->sa_flags & SA_SIGINFO) && action->sa_sigaction == handler;
}

// Installs daxmap's action for `signo`; what it displaced becomes the chain
// target (published before daxmap's handler can run, then corrected if
// another thread's sigaction slipped in between).
static int install_one(int signo, struct sigaction *previous) {
    struct sigaction ours, before, displaced;
    our_action(&ours);
    if (sigaction(signo, NULL, &before) != 0) return -errno;
    if (is_ours(&before)) return 0;
    publish_target(signo, &before);
    if (sigaction(signo, &ours, &displaced) != 0) return -errno;
    if (is_ours(&displaced)) return 0;
    if (memcmp(&displaced, &before, sizeof before) != 0) publish_target(signo, &displaced);
    if (previous) *previous = displaced;
    return 0;
}

int cdaxmap_sigbus_install(void) {
    if (atomic_load(&installed)) return 0;
    pthread_mutex_lock(&install_lock);
    int result = 0;
    if (!atomic_load(&installed)) {
        long page = sysconf(_SC_PAGESIZE);
        if (page > 0) atomic_store_explicit(&page_size, (size_t)page, memory_order_relaxed);
        result = cdaxmap_ring_open();
        if (result == 0) result = install_one(SIGBUS, &original_actions[0]);
        if (result == 0) result = install_one(SIGSEGV, &original_actions[1]);
        if (result == 0) atomic_store(&installed, 1);
    }
    pthread_mutex_unlock(&install_lock);
    return result;
}

int cdaxmap_sigbus_displaced(void) {
    if (!atomic_load(&installed)) return 0;
    int displaced = 0;
    struct sigaction current;
    if (sigaction(SIGBUS, NULL, &current) == 0 && !is_ours(&current)) displaced |= CDAXMAP_DISPLACED_SIGBUS;
    if (sigaction(SIGSEGV, NULL, &current) == 0 && !is_ours(&current)) displaced |= CDAXMAP_DISPLACED_SIGSEGV;
    return displaced;
}

int cdaxmap_sigbus_reinstall(void) {
    if (!atomic_load(&installed)) return cdaxmap_sigbus_install();
    pthread_mutex_lock(&install_lock);
    int result = install_one(SIGBUS, NULL);
    if (result == 0) result = install_one(SIGSEGV, NULL);
    pthread_mutex_unlock(&install_lock);
    return result;
}
