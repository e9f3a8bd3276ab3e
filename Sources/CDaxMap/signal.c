// The process-wide SIGBUS/SIGSEGV handler, the range table it reads and the
// event ring it writes. Everything reachable from the handler is
// async-signal-safe: atomics, raw system calls, no allocation, no locks.
#define _GNU_SOURCE // gettid, MAP_FIXED_NOREPLACE, REG_RIP
#include "CDaxMap.h"
#include "copy_mc.h"
#include "guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
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

// MARK: - Range table

// One slot per mapping. `state` is written last on publish (release) and first
// on teardown, so the handler (acquire) never reads a half-written entry as ours.
// Extents the handler marked untrusted in a slot: poisoned (AR/AO) or lost
// (replaced by anonymous memory). Past the capacity the whole range is untrusted.
#define FAILED_CAPACITY 16u
struct failed_extent {
    _Atomic int kind; // 0 until written
    _Atomic uintptr_t lo, hi;
};

struct range_slot {
    _Atomic uint32_t failed_count;
    struct failed_extent failed[FAILED_CAPACITY];
    _Atomic int state;
    _Atomic uintptr_t start;
    _Atomic uintptr_t end;
    _Atomic uint64_t mapping_id;
    _Atomic int policy;
    _Atomic size_t replace_unit;
};

static struct range_slot ranges[CDAXMAP_RANGE_CAPACITY];
// One past the highest slot ever used: bounds the handler's scan.
static _Atomic long ranges_high;

long cdaxmap_range_register(const void *start, size_t length, uint64_t mapping_id,
                            int policy, size_t replace_unit) {
    for (long i = 0; i < CDAXMAP_RANGE_CAPACITY; i++) {
        int expected = CDAXMAP_RANGE_FREE;
        if (!atomic_compare_exchange_strong(&ranges[i].state, &expected, CDAXMAP_RANGE_BUSY)) continue;
        atomic_store_explicit(&ranges[i].start, (uintptr_t)start, memory_order_relaxed);
        atomic_store_explicit(&ranges[i].end, (uintptr_t)start + length, memory_order_relaxed);
        atomic_store_explicit(&ranges[i].mapping_id, mapping_id, memory_order_relaxed);
        atomic_store_explicit(&ranges[i].policy, policy, memory_order_relaxed);
        atomic_store_explicit(&ranges[i].replace_unit, replace_unit ? replace_unit : 4096, memory_order_relaxed);
        for (unsigned k = 0; k < FAILED_CAPACITY; k++) atomic_store(&ranges[i].failed[k].kind, 0);
        atomic_store(&ranges[i].failed_count, 0);
        long high = atomic_load(&ranges_high);
        while (high < i + 1 && !atomic_compare_exchange_weak(&ranges_high, &high, i + 1)) {}
        atomic_store_explicit(&ranges[i].state, CDAXMAP_RANGE_ACTIVE, memory_order_release);
        return i;
    }
    return -ENOSPC;
}

void cdaxmap_range_set_revoked(long slot) {
    if (slot < 0 || slot >= CDAXMAP_RANGE_CAPACITY) return;
    atomic_store_explicit(&ranges[slot].state, CDAXMAP_RANGE_REVOKED, memory_order_release);
}

// Ranges released recently. An fsdax pre-remove sends thousands of
// asynchronous BUS_MCEERR_AO notices computed before they are delivered; the
// late ones name addresses a holder has already released. They are ours.
#define RETIRED_CAPACITY 256u
struct retired_range {
    _Atomic uintptr_t start, end;
};
static struct retired_range retired[RETIRED_CAPACITY];
static _Atomic uint64_t retired_next;
static _Atomic uint64_t late_notices;

static int retired_contains(uintptr_t addr) {
    for (unsigned i = 0; i < RETIRED_CAPACITY; i++) {
        uintptr_t start = atomic_load_explicit(&retired[i].start, memory_order_acquire);
        uintptr_t end = atomic_load_explicit(&retired[i].end, memory_order_acquire);
        if (addr >= start && addr < end) return 1;
    }
    return 0;
}

uint64_t cdaxmap_events_late(void) { return atomic_load(&late_notices); }

void cdaxmap_range_unregister(long slot) {
    if (slot < 0 || slot >= CDAXMAP_RANGE_CAPACITY) return;
    uint64_t r = atomic_fetch_add(&retired_next, 1) % RETIRED_CAPACITY;
    atomic_store_explicit(&retired[r].start, 0, memory_order_release);
    atomic_store_explicit(&retired[r].end, atomic_load(&ranges[slot].end), memory_order_release);
    atomic_store_explicit(&retired[r].start, atomic_load(&ranges[slot].start), memory_order_release);
    atomic_store_explicit(&ranges[slot].state, CDAXMAP_RANGE_BUSY, memory_order_release);
    atomic_store_explicit(&ranges[slot].start, 0, memory_order_relaxed);
    atomic_store_explicit(&ranges[slot].end, 0, memory_order_relaxed);
    atomic_store_explicit(&ranges[slot].state, CDAXMAP_RANGE_FREE, memory_order_release);
}

// Async-signal-safe: called from the handler.
static void mark_failed(long slot, int kind, uintptr_t lo, uintptr_t hi) {
    uint32_t k = atomic_fetch_add(&ranges[slot].failed_count, 1);
    if (k >= FAILED_CAPACITY) return;
    atomic_store_explicit(&ranges[slot].failed[k].lo, lo, memory_order_relaxed);
    atomic_store_explicit(&ranges[slot].failed[k].hi, hi, memory_order_relaxed);
    atomic_store_explicit(&ranges[slot].failed[k].kind, kind, memory_order_release);
}

int cdaxmap_range_check(long slot, uintptr_t lo, uintptr_t hi, uintptr_t *failed_lo, uintptr_t *failed_hi) {
    if (slot < 0 || slot >= CDAXMAP_RANGE_CAPACITY) return 0;
    uint32_t n = atomic_load_explicit(&ranges[slot].failed_count, memory_order_acquire);
    if (n == 0) return 0;
    if (n > FAILED_CAPACITY) {
        *failed_lo = atomic_load(&ranges[slot].start);
        *failed_hi = atomic_load(&ranges[slot].end);
        return CDAXMAP_FAILED_POISON;
    }
    for (uint32_t k = 0; k < n; k++) {
        int kind = atomic_load_explicit(&ranges[slot].failed[k].kind, memory_order_acquire);
        if (!kind) continue;
        uintptr_t flo = atomic_load_explicit(&ranges[slot].failed[k].lo, memory_order_relaxed);
        uintptr_t fhi = atomic_load_explicit(&ranges[slot].failed[k].hi, memory_order_relaxed);
        if (flo < hi && lo < fhi) {
            *failed_lo = flo;
            *failed_hi = fhi;
            return kind;
        }
    }
    return 0;
}

long cdaxmap_range_failed(long slot, int *kinds, uintptr_t *los, uintptr_t *his, long capacity) {
    if (slot < 0 || slot >= CDAXMAP_RANGE_CAPACITY) return 0;
    uint32_t n = atomic_load_explicit(&ranges[slot].failed_count, memory_order_acquire);
    long out = 0;
    for (uint32_t k = 0; k < n && k < FAILED_CAPACITY && out < capacity; k++) {
        int kind = atomic_load_explicit(&ranges[slot].failed[k].kind, memory_order_acquire);
        if (!kind) continue;
        kinds[out] = kind;
        los[out] = atomic_load(&ranges[slot].failed[k].lo);
        his[out] = atomic_load(&ranges[slot].failed[k].hi);
        out++;
    }
    return out;
}

// A snapshot of the slot that contains addr, taken by the handler.
struct range_hit {
    long slot;
    int state;
    uintptr_t start, end;
    uint64_t mapping_id;
    int policy;
    size_t replace_unit;
};

static int range_lookup(uintptr_t addr, struct range_hit *hit) {
    long high = atomic_load_explicit(&ranges_high, memory_order_acquire);
    for (long i = 0; i < high; i++) {
        int state = atomic_load_explicit(&ranges[i].state, memory_order_acquire);
        if (state != CDAXMAP_RANGE_ACTIVE && state != CDAXMAP_RANGE_REVOKED) continue;
        uintptr_t start = atomic_load_explicit(&ranges[i].start, memory_order_relaxed);
        uintptr_t end = atomic_load_explicit(&ranges[i].end, memory_order_relaxed);
        if (addr < start || addr >= end) continue;
        hit->slot = i;
        hit->state = state;
        hit->start = start;
        hit->end = end;
        hit->mapping_id = atomic_load_explicit(&ranges[i].mapping_id, memory_order_relaxed);
        hit->policy = atomic_load_explicit(&ranges[i].policy, memory_order_relaxed);
        hit->replace_unit = atomic_load_explicit(&ranges[i].replace_unit, memory_order_relaxed);
        // Re-check: the slot may have been torn down while we read it.
        if (atomic_load_explicit(&ranges[i].state, memory_order_acquire) != state) continue;
        return 1;
    }
    return 0;
}

uint64_t cdaxmap_range_owner(const void *addr) {
    struct range_hit hit;
    return range_lookup((uintptr_t)addr, &hit) ? hit.mapping_id : 0;
}

// MARK: - Event ring (multi-producer, single consumer)

#define RING_CAPACITY 4096u // power of two

struct ring_cell {
    _Atomic uint64_t turn; // sequence + 1 once written; lets the consumer skip half-written cells
    struct cdaxmap_fault fault;
};

static struct ring_cell ring[RING_CAPACITY];
static _Atomic uint64_t ring_head; // next slot producers claim
static uint64_t ring_tail;         // consumer only
static _Atomic uint64_t ring_dropped;
static _Atomic uint64_t chained_count;
static _Atomic int wake_fd = -1;
// Set by the first producer after the consumer re-armed: one eventfd write per
// drain, so a storm makes one system call, not thousands (each system call
// exit would deliver the next pending SIGBUS on top of this handler's frame).
static _Atomic int wake_pending;

void cdaxmap_events_rearm(void) { atomic_store(&wake_pending, 0); }

static void ring_push(struct cdaxmap_fault *f) {
    uint64_t head = atomic_load_explicit(&ring_head, memory_order_relaxed);
    for (;;) {
        // The consumer's tail is not atomic; a stale (smaller) read only makes us drop early.
        uint64_t tail = __atomic_load_n(&ring_tail, __ATOMIC_ACQUIRE);
        if (head - tail >= RING_CAPACITY) {
            atomic_fetch_add(&ring_dropped, 1);
            return;
        }
        if (atomic_compare_exchange_weak(&ring_head, &head, head + 1)) break;
    }
    struct ring_cell *cell = &ring[head & (RING_CAPACITY - 1)];
    f->sequence = head;
    cell->fault = *f;
    atomic_store_explicit(&cell->turn, head + 1, memory_order_release);
    int fd = atomic_load(&wake_fd);
    if (fd >= 0 && !atomic_exchange(&wake_pending, 1)) {
        uint64_t one = 1;
        ssize_t r = write(fd, &one, sizeof one);
        (void)r;
    }
}

int cdaxmap_events_take(struct cdaxmap_fault *out) {
    uint64_t tail = ring_tail;
    if (tail == atomic_load_explicit(&ring_head, memory_order_acquire)) return 0;
    struct ring_cell *cell = &ring[tail & (RING_CAPACITY - 1)];
    // A producer claimed the slot but may still be writing it (it was interrupted).
    if (atomic_load_explicit(&cell->turn, memory_order_acquire) != tail + 1) return 0;
    *out = cell->fault;
    __atomic_store_n(&ring_tail, tail + 1, __ATOMIC_RELEASE);
    return 1;
}

uint64_t cdaxmap_events_dropped(void) { return atomic_load(&ring_dropped); }
uint64_t cdaxmap_events_chained(void) { return atomic_load(&chained_count); }
int cdaxmap_sigbus_eventfd(void) { return atomic_load(&wake_fd); }

// MARK: - Handler

static struct sigaction previous_bus, previous_segv;
static _Atomic int installed;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

// The thread's innermost active guard (guard.h); initial-exec so the handler
// reads it without __tls_get_addr (which may allocate).
__thread struct cdaxmap_guard *cdaxmap_current_guard __attribute__((tls_model("initial-exec")));
#if CDAXMAP_HAVE_MC
__thread struct cdaxmap_fault cdaxmap_mc_fault __attribute__((tls_model("initial-exec")));
#endif

// A pre-remove storm keeps a SIGBUS pending nearly all the time, and the
// kernel delivers the next pending signal before the handler runs a single
// instruction: had SA_NODEFER its way, frames would pile up until the signal
// stack overflows. So sa_mask blocks SIGBUS and SIGSEGV while the handler runs
// (which SA_NODEFER respects); a normal return restores the mask from the
// signal frame, and every path that leaves otherwise (siglongjmp, chaining,
// dying) unblocks them first, so the chained handler and the code after a
// guard see exactly what SA_NODEFER gives them.
static void fault_signals(int how) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGBUS);
    sigaddset(&set, SIGSEGV);
    pthread_sigmask(how, &set, NULL);
}

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

// Hands a signal that is not ours to whoever had it before us, exactly as they
// installed it; for SIG_DFL, restore and let the fault (or a re-raise) take effect.
static void chain(int signo, siginfo_t *info, void *context) {
    atomic_fetch_add(&chained_count, 1);
    struct sigaction *prev = signo == SIGBUS ? &previous_bus : &previous_segv;
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) {
            prev->sa_sigaction(signo, info, context);
            return;
        }
    } else if (prev->sa_handler == SIG_IGN) {
        return;
    } else if (prev->sa_handler != SIG_DFL) {
        prev->sa_handler(signo);
        return;
    }
    // SIG_DFL: a real fault re-executes the access and dies; a sent signal must be raised again.
    signal(signo, SIG_DFL);
    if (info->si_code <= 0 || info->si_code == BUS_MCEERR_AO) raise(signo);
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
    fault_signals(SIG_UNBLOCK);
    raise(signo);
}

static __thread int32_t cached_tid __attribute__((tls_model("initial-exec")));

static int asynchronous_notice(int signo, const siginfo_t *info) {
    return signo == SIGBUS && info->si_code == BUS_MCEERR_AO;
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

static void handler(int signo, siginfo_t *info, void *context) {
    int saved_errno = errno;
    uintptr_t addr = (uintptr_t)info->si_addr;
    struct range_hit hit;
    if (!range_lookup(addr, &hit)) {
        if (asynchronous_notice(signo, info) && retired_contains(addr)) {
            atomic_fetch_add(&late_notices, 1); // a notice about memory we already let go of
        } else {
            fault_signals(SIG_UNBLOCK);
            chain(signo, info, context);
        }
        errno = saved_errno;
        return;
    }

    struct cdaxmap_fault f;
    memset(&f, 0, sizeof f);
    f.mapping_id = hit.mapping_id;
    f.address = addr;
    f.range_start = hit.start;
    f.signo = signo;
    f.code = info->si_code;
    f.addr_lsb = (signo == SIGBUS && (info->si_code == BUS_MCEERR_AR || info->si_code == BUS_MCEERR_AO))
                     ? info->si_addr_lsb : 0;
    // No system call on the notice path: see wake_pending.
    if (!cached_tid && !asynchronous_notice(signo, info)) cached_tid = (int32_t)syscall(SYS_gettid);
    f.tid = cached_tid;
    if (hit.state == CDAXMAP_RANGE_REVOKED) f.flags |= CDAXMAP_EVENT_REVOKED;

    int asynchronous = asynchronous_notice(signo, info);
    if (f.addr_lsb > 0 && f.addr_lsb < 40) {
        // Poison: the kernel said this extent failed; never trust it again here.
        uintptr_t extent = (uintptr_t)1 << f.addr_lsb;
        uintptr_t lo = addr & ~(extent - 1), hi = lo + extent;
        mark_failed(hit.slot, CDAXMAP_FAILED_POISON, lo < hit.start ? hit.start : lo, hi > hit.end ? hit.end : hi);
    }
#if CDAXMAP_HAVE_MC
    // A recoverable routine faulted (copy_mc.c): resume it at its fixup, which
    // returns -EFAULT. It only touches the buffers it was given, so any of our
    // ranges here is one of them (or, for poison, the start of their extent).
    ucontext_t *uc = context;
    uintptr_t fixup = asynchronous ? 0 : cdaxmap_mc_fixup_for((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    if (fixup) {
        f.flags |= CDAXMAP_EVENT_GUARDED;
        ring_push(&f);
        cdaxmap_mc_fault = f;
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fixup;
        errno = saved_errno;
        return; // sigreturn restores the mask
    }
#endif
    struct cdaxmap_guard *guard = cdaxmap_current_guard;
    if (!asynchronous && guard && guard_catches(guard, addr, &hit)) {
        f.flags |= CDAXMAP_EVENT_GUARDED;
        ring_push(&f);
        guard->fault = f;
        cdaxmap_current_guard = guard->previous;
        errno = saved_errno;
        fault_signals(SIG_UNBLOCK); // the jump does not restore the mask (savemask 0)
        siglongjmp(guard->jump, 1);
    }
    if (asynchronous) {
        // A notice: the page is gone but nobody touched it yet. The monitor decides.
        ring_push(&f);
        errno = saved_errno;
        return;
    }
    if (hit.policy == CDAXMAP_POLICY_TERMINATE) {
        f.flags |= CDAXMAP_EVENT_TERMINATE;
        ring_push(&f);
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
        ring_push(&f);
        die(signo, &f);
    }
    f.flags |= CDAXMAP_EVENT_REPLACED;
    mark_failed(hit.slot, CDAXMAP_FAILED_LOST, lo, hi);
    f.lost_start = lo;
    f.lost_length = hi - lo;
    ring_push(&f);
    errno = saved_errno;
}

int cdaxmap_sigbus_install(void) {
    if (atomic_load(&installed)) return 0;
    pthread_mutex_lock(&install_lock);
    int result = 0;
    if (!atomic_load(&installed)) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) {
            result = -errno;
        } else {
            atomic_store(&wake_fd, fd);
            struct sigaction action;
            memset(&action, 0, sizeof action);
            action.sa_sigaction = handler;
            // SA_NODEFER: a chained crash handler (the Swift backtracer) and a
            // re-fault under SIG_DFL must see the signal unblocked.
            action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
            sigemptyset(&action.sa_mask);
            sigaddset(&action.sa_mask, SIGBUS); // see fault_signals
            sigaddset(&action.sa_mask, SIGSEGV);
            if (sigaction(SIGBUS, &action, &previous_bus) != 0 ||
                sigaction(SIGSEGV, &action, &previous_segv) != 0) {
                result = -errno;
            } else {
                atomic_store(&installed, 1);
            }
        }
    }
    pthread_mutex_unlock(&install_lock);
    return result;
}

// MARK: - Alternate signal stacks

static pthread_key_t altstack_key;
static pthread_once_t altstack_once = PTHREAD_ONCE_INIT;
static __thread int altstack_ready __attribute__((tls_model("initial-exec")));
#define ALTSTACK_SIZE (64 * 1024)

static void altstack_release(void *stack) {
    stack_t disable = {.ss_flags = SS_DISABLE};
    sigaltstack(&disable, NULL);
    munmap(stack, ALTSTACK_SIZE);
}

static void altstack_key_create(void) { pthread_key_create(&altstack_key, altstack_release); }

int cdaxmap_thread_prepare(void) {
    if (altstack_ready) return 0;
    cached_tid = (int32_t)syscall(SYS_gettid);
    stack_t current;
    if (sigaltstack(NULL, &current) != 0) return -errno;
    if (!(current.ss_flags & SS_DISABLE)) { // the thread has one already (main thread: Swift's)
        altstack_ready = 1;
        return 0;
    }
    pthread_once(&altstack_once, altstack_key_create);
    void *stack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return -errno;
    stack_t ss = {.ss_sp = stack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        int e = errno;
        munmap(stack, ALTSTACK_SIZE);
        return -e;
    }
    pthread_setspecific(altstack_key, stack);
    altstack_ready = 1;
    return 0;
}

// MARK: - Test support

int cdaxmap_test_raise_sigbus(int code, void *addr, int addr_lsb) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = SIGBUS;
    info.si_code = code;
    info.si_addr = addr;
    info.si_addr_lsb = (short)addr_lsb;
    // To itself a thread may send any si_code (the kernel refuses positive codes across processes).
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &info) != 0) return -errno;
    return 0;
}

int cdaxmap_test_raise_sigbus_guarded(int code, void *addr, int addr_lsb, struct cdaxmap_fault *fault) {
    int result = 0;
    CDAXMAP_GUARDED(fault, addr, 1, 0, 0, result = cdaxmap_test_raise_sigbus(code, addr, addr_lsb));
    return result;
}
