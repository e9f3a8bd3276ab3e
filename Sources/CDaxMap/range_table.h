// Private to the shim: what the handler needs from the range table.
#ifndef CDAXMAP_RANGE_TABLE_H
#define CDAXMAP_RANGE_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "CDaxMap.h"

/// A consistent snapshot of the slot that contains an address: every field
/// read under one even generation of the slot's seqlock.
struct range_hit {
    long slot;
    uint32_t generation;
    int state;
    uintptr_t start, end;
    uint64_t mapping_id;
    int policy;
    size_t replace_unit;
};

/// Finds the active or revoked range containing `addr`. Async-signal-safe,
/// lock-free; a slot being written (odd generation) is not ours.
int cdaxmap_rt_lookup(uintptr_t addr, struct range_hit *hit);

/// Marks [lo, hi) of the hit's slot failed with `kind` (clamped to the range),
/// unless the slot was reused since the lookup. Async-signal-safe.
int cdaxmap_rt_mark_hit(const struct range_hit *hit, int kind, uintptr_t lo, uintptr_t hi);

/// Counts one fault attributed to the hit's slot. Async-signal-safe.
void cdaxmap_rt_count_fault(const struct range_hit *hit);

/// Whether `addr` lies in a range released recently (late asynchronous notices).
int cdaxmap_rt_retired_contains(uintptr_t addr);

#endif
