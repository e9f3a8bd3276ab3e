// Private to the shim: the per-thread guard a guarded access pushes.
#ifndef CDAXMAP_GUARD_H
#define CDAXMAP_GUARD_H

#include <setjmp.h>
#include <stdint.h>
#include "CDaxMap.h"

struct cdaxmap_guard {
    // savemask 0: with SA_NODEFER nothing is blocked by the handler, and saving
    // the mask would cost a system call on every guarded access.
    sigjmp_buf jump;
    uintptr_t lo[2], hi[2];
    struct cdaxmap_guard *previous;
    struct cdaxmap_fault fault;
};

extern __thread struct cdaxmap_guard *cdaxmap_current_guard __attribute__((tls_model("initial-exec")));

static inline int cdaxmap_guard_covers(const struct cdaxmap_guard *g, uintptr_t addr) {
    return (addr >= g->lo[0] && addr < g->hi[0]) || (addr >= g->lo[1] && addr < g->hi[1]);
}

#endif
