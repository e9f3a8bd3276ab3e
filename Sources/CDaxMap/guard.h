// Private to the shim: the per-thread guard a guarded access pushes.
#ifndef CDAXMAP_GUARD_H
#define CDAXMAP_GUARD_H

#include <setjmp.h>
#include <stdint.h>
#include "CDaxMap.h"

struct cdaxmap_guard {
    // savemask 0: saving the mask would cost a system call on every guarded
    // access. The handler runs with SIGBUS and SIGSEGV blocked (its sa_mask)
    // and restores the interrupted code's mask itself before it jumps here.
    sigjmp_buf jump;
    uintptr_t lo[2], hi[2];
    struct cdaxmap_guard *previous;
    struct cdaxmap_fault fault;
};

extern __thread struct cdaxmap_guard *cdaxmap_current_guard __attribute__((tls_model("initial-exec")));

static inline int cdaxmap_guard_covers(const struct cdaxmap_guard *g, uintptr_t addr) {
    return (addr >= g->lo[0] && addr < g->hi[0]) || (addr >= g->lo[1] && addr < g->hi[1]);
}

/// Runs `body` under a guard over [p0, p0+n0) and [p1, p1+n1) (n1 may be 0):
/// a fault the handler catches there makes the enclosing function return
/// -EFAULT with the fault in `*fault`. A macro because sigsetjmp must sit in
/// the frame that stays alive, and only C frames may lie between it and the access.
#define CDAXMAP_GUARDED(fault, p0, n0, p1, n1, body)                            \
    do {                                                                        \
        struct cdaxmap_guard guard_;                                            \
        guard_.lo[0] = (uintptr_t)(p0);                                         \
        guard_.hi[0] = guard_.lo[0] + (n0);                                     \
        guard_.lo[1] = (uintptr_t)(p1);                                         \
        guard_.hi[1] = guard_.lo[1] + (n1);                                     \
        guard_.previous = cdaxmap_current_guard;                                \
        if (sigsetjmp(guard_.jump, 0)) { /* the handler popped the guard */    \
            *(fault) = guard_.fault;                                            \
            return -EFAULT;                                                     \
        }                                                                       \
        cdaxmap_current_guard = &guard_;                                        \
        __atomic_signal_fence(__ATOMIC_SEQ_CST);                                \
        body;                                                                   \
        __atomic_signal_fence(__ATOMIC_SEQ_CST);                                \
        cdaxmap_current_guard = guard_.previous;                                \
    } while (0)

#endif
