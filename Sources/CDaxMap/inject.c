// The table of injected failures the handler consults on BUS_ADRERR, the
// empty memfd traps are mapped from, and the self-sent notices of an injected
// pre-remove storm. See CDaxMapInject.h.
#define _GNU_SOURCE
#include "CDaxMap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO 5
#endif

// Each entry is a small seqlock: generation odd while written. `serial`
// orders entries so the newest one at an address wins.
struct injected_entry {
    _Atomic uint32_t generation;
    _Atomic int kind; // 0: free
    _Atomic uint64_t mapping_id, serial;
    _Atomic uintptr_t lo, hi;
};

static struct injected_entry entries[CDAXMAP_INJECT_CAPACITY];
static _Atomic long entries_high;
static _Atomic uint64_t next_serial = 1;

long cdaxmap_inject_add(uint64_t mapping_id, uintptr_t lo, uintptr_t hi, int kind) {
    if (mapping_id == 0 || lo >= hi) return -EINVAL;
    if (kind != CDAXMAP_FAILED_POISON && kind != CDAXMAP_FAILED_REMOVED) return -EINVAL;
    for (long i = 0; i < CDAXMAP_INJECT_CAPACITY; i++) {
        struct injected_entry *e = &entries[i];
        if (atomic_load_explicit(&e->kind, memory_order_acquire) != 0) continue;
        uint32_t g = atomic_load_explicit(&e->generation, memory_order_relaxed);
        atomic_store_explicit(&e->generation, g + 1, memory_order_relaxed); // odd
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&e->mapping_id, mapping_id, memory_order_relaxed);
        atomic_store_explicit(&e->serial, atomic_fetch_add(&next_serial, 1), memory_order_relaxed);
        atomic_store_explicit(&e->lo, lo, memory_order_relaxed);
        atomic_store_explicit(&e->hi, hi, memory_order_relaxed);
        atomic_store_explicit(&e->kind, kind, memory_order_relaxed);
        long high = atomic_load(&entries_high);
        while (high < i + 1 && !atomic_compare_exchange_weak(&entries_high, &high, i + 1)) {}
        atomic_store_explicit(&e->generation, g + 2, memory_order_release); // even: published
        return i;
    }
    return -ENOSPC;
}

void cdaxmap_inject_remove(long entry) {
    if (entry < 0 || entry >= CDAXMAP_INJECT_CAPACITY) return;
    struct injected_entry *e = &entries[entry];
    uint32_t g = atomic_load_explicit(&e->generation, memory_order_relaxed);
    atomic_store_explicit(&e->generation, g + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&e->mapping_id, 0, memory_order_relaxed);
    atomic_store_explicit(&e->lo, 0, memory_order_relaxed);
    atomic_store_explicit(&e->hi, 0, memory_order_relaxed);
    atomic_store_explicit(&e->generation, g + 2, memory_order_release);
    atomic_store_explicit(&e->kind, 0, memory_order_release); // free last
}

int cdaxmap_inject_lookup(uint64_t mapping_id, uintptr_t addr, uintptr_t *lo, uintptr_t *hi) {
    long high = atomic_load_explicit(&entries_high, memory_order_acquire);
    int found = 0;
    uint64_t best = 0;
    for (long i = 0; i < high; i++) {
        struct injected_entry *e = &entries[i];
        if (atomic_load_explicit(&e->kind, memory_order_relaxed) == 0) continue;
        for (int attempt = 0; attempt < 8; attempt++) {
            uint32_t g = atomic_load_explicit(&e->generation, memory_order_acquire);
            if (g & 1) break;
            int kind = atomic_load_explicit(&e->kind, memory_order_relaxed);
            uint64_t id = atomic_load_explicit(&e->mapping_id, memory_order_relaxed);
            uint64_t serial = atomic_load_explicit(&e->serial, memory_order_relaxed);
            uintptr_t elo = atomic_load_explicit(&e->lo, memory_order_relaxed);
            uintptr_t ehi = atomic_load_explicit(&e->hi, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&e->generation, memory_order_relaxed) != g) continue;
            if (kind && id == mapping_id && addr >= elo && addr < ehi && serial > best) {
                best = serial;
                found = kind;
                *lo = elo;
                *hi = ehi;
            }
            break;
        }
    }
    return found;
}

static pthread_once_t trap_once = PTHREAD_ONCE_INIT;
static int trap_fd = -1, trap_errno;

static void create_trap(void) {
    int fd = (int)syscall(SYS_memfd_create, "daxmap-injected-failure", MFD_CLOEXEC);
    if (fd < 0) trap_errno = errno;
    else trap_fd = fd;
}

int cdaxmap_inject_trap_fd(void) {
    pthread_once(&trap_once, create_trap);
    return trap_fd >= 0 ? trap_fd : -trap_errno;
}

int cdaxmap_inject_notice(void *addr, int addr_lsb) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = SIGBUS;
    info.si_code = BUS_MCEERR_AO;
    info.si_addr = addr;
    info.si_addr_lsb = (short)addr_lsb;
    long r = syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &info);
    return r == 0 ? 0 : -errno;
}

// Written once by a constructor before main (single-threaded), read later.
static void (*testing_install)(void);

void cdaxmap_testing_register(void (*install)(void)) { testing_install = install; }

void cdaxmap_testing_install(void) {
    if (testing_install) testing_install();
}
