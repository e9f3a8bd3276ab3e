// The table of mapped ranges the signal handler reads, and the failed extents
// it records per range. Lock-free: the handler may interrupt any writer.
//
// Each slot is a seqlock. Its generation is odd while the slot is written
// (registration, teardown) and even when stable; a reader takes the
// generation (acquire), reads the fields, fences (acquire) and takes it again:
// equal and even, the fields belong to one registration. Without it a slot
// torn down and registered again while a lookup read it (ACTIVE -> FREE ->
// ACTIVE: the state alone cannot tell) gave the address of one range with the
// id of another.
//
// `state` moves FREE -> BUSY (claimed by CAS) -> ACTIVE [-> REVOKED] -> BUSY
// -> FREE. Only registration and teardown bump the generation; revocation
// changes the state alone, and both its values describe the same mapping.
#define _GNU_SOURCE
#include "range_table.h"

#include <errno.h>
#include <stdatomic.h>

struct range_slot {
    _Atomic uint32_t generation; // seqlock: odd while written
    _Atomic int state;
    _Atomic uintptr_t start, end;
    _Atomic uint64_t mapping_id;
    _Atomic int policy;
    _Atomic size_t replace_unit;
} __attribute__((aligned(64))); // one line each: the handler scans these

struct failed_extent {
    _Atomic int kind; // 0 until written (release), then never 0 until reset
    _Atomic uintptr_t lo, hi;
};

// Read by guarded accesses and by Swift, written by the handler: apart from
// the slots the handler scans.
struct slot_failures {
    _Atomic uint32_t count;  // extents claimed, at most CDAXMAP_FAILED_CAPACITY
    _Atomic int overflowed;  // the kind that did not fit, or 0
    _Atomic uint64_t faults; // faults the handler attributed to the slot
    _Atomic uint64_t epoch;  // the epoch of the newest mark (only grows until reset)
    struct failed_extent extents[CDAXMAP_FAILED_CAPACITY];
};

static struct range_slot ranges[CDAXMAP_RANGE_CAPACITY];
static struct slot_failures failures[CDAXMAP_RANGE_CAPACITY];
// One past the highest slot ever used: bounds the handler's scan.
static _Atomic long ranges_high;

static int valid_slot(long slot) { return slot >= 0 && slot < CDAXMAP_RANGE_CAPACITY; }

// MARK: - Epochs

// The mapping ids issued so far (see CDaxMap.h). One counter, so "raised
// before this mapping existed" is one comparison wherever a failure is applied.
static _Atomic uint64_t epoch;

uint64_t cdaxmap_epoch_advance(void) { return atomic_fetch_add(&epoch, 1) + 1; }

uint64_t cdaxmap_epoch_now(void) { return atomic_load_explicit(&epoch, memory_order_acquire); }

// MARK: - Seqlock

static void write_begin(struct range_slot *s) {
    uint32_t g = atomic_load_explicit(&s->generation, memory_order_relaxed);
    atomic_store_explicit(&s->generation, g + 1, memory_order_relaxed); // odd
    atomic_thread_fence(memory_order_release); // the odd value is visible before any field changes
}

static void write_end(struct range_slot *s) {
    uint32_t g = atomic_load_explicit(&s->generation, memory_order_relaxed);
    atomic_store_explicit(&s->generation, g + 1, memory_order_release); // even: fields published
}

// A reader retries a slot whose generation moved this many times, then treats
// it as not ours (a writer cannot keep a slot busy for long: registration is
// serialised and the handler never writes the seqlock).
#define READ_ATTEMPTS 8

// Reads slot `i` consistently into `hit`. 1: a stable snapshot (state any);
// 0: the slot is being written.
static int read_slot(long i, struct range_hit *hit) {
    struct range_slot *s = &ranges[i];
    for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        uint32_t g1 = atomic_load_explicit(&s->generation, memory_order_acquire);
        if (g1 & 1) return 0;
        hit->state = atomic_load_explicit(&s->state, memory_order_relaxed);
        hit->start = atomic_load_explicit(&s->start, memory_order_relaxed);
        hit->end = atomic_load_explicit(&s->end, memory_order_relaxed);
        hit->mapping_id = atomic_load_explicit(&s->mapping_id, memory_order_relaxed);
        hit->policy = atomic_load_explicit(&s->policy, memory_order_relaxed);
        hit->replace_unit = atomic_load_explicit(&s->replace_unit, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire); // the field loads complete before the re-check
        if (atomic_load_explicit(&s->generation, memory_order_relaxed) != g1) continue;
        hit->slot = i;
        hit->generation = g1;
        return 1;
    }
    return 0;
}

// MARK: - Registration

long cdaxmap_range_register(const void *start, size_t length, uint64_t mapping_id,
                            int policy, size_t replace_unit) {
    for (long i = 0; i < CDAXMAP_RANGE_CAPACITY; i++) {
        int expected = CDAXMAP_RANGE_FREE;
        if (!atomic_compare_exchange_strong(&ranges[i].state, &expected, CDAXMAP_RANGE_BUSY)) continue;
        struct range_slot *s = &ranges[i];
        struct slot_failures *f = &failures[i];
        write_begin(s);
        atomic_store_explicit(&s->start, (uintptr_t)start, memory_order_relaxed);
        atomic_store_explicit(&s->end, (uintptr_t)start + length, memory_order_relaxed);
        atomic_store_explicit(&s->mapping_id, mapping_id, memory_order_relaxed);
        atomic_store_explicit(&s->policy, policy, memory_order_relaxed);
        atomic_store_explicit(&s->replace_unit, replace_unit ? replace_unit : 4096, memory_order_relaxed);
        for (unsigned k = 0; k < CDAXMAP_FAILED_CAPACITY; k++)
            atomic_store_explicit(&f->extents[k].kind, 0, memory_order_relaxed);
        atomic_store_explicit(&f->count, 0, memory_order_relaxed);
        atomic_store_explicit(&f->overflowed, 0, memory_order_relaxed);
        atomic_store_explicit(&f->faults, 0, memory_order_relaxed);
        atomic_store_explicit(&f->epoch, 0, memory_order_relaxed);
        long high = atomic_load(&ranges_high);
        while (high < i + 1 && !atomic_compare_exchange_weak(&ranges_high, &high, i + 1)) {}
        atomic_store_explicit(&s->state, CDAXMAP_RANGE_ACTIVE, memory_order_release);
        write_end(s);
        return i;
    }
    return -ENOSPC;
}

void cdaxmap_range_set_revoked(long slot) {
    if (!valid_slot(slot)) return;
    int expected = CDAXMAP_RANGE_ACTIVE; // never resurrect a freed slot
    atomic_compare_exchange_strong_explicit(&ranges[slot].state, &expected, CDAXMAP_RANGE_REVOKED,
                                            memory_order_release, memory_order_relaxed);
}

// MARK: - Retired ranges

// Ranges released recently. An fsdax pre-remove sends thousands of
// asynchronous BUS_MCEERR_AO notices computed before they are delivered; the
// late ones name addresses a holder has already released. They are ours.
#define RETIRED_CAPACITY 256u
struct retired_range {
    _Atomic uintptr_t start, end;
};
static struct retired_range retired[RETIRED_CAPACITY];
static _Atomic uint64_t retired_next;

int cdaxmap_rt_retired_contains(uintptr_t addr) {
    for (unsigned i = 0; i < RETIRED_CAPACITY; i++) {
        uintptr_t start = atomic_load_explicit(&retired[i].start, memory_order_acquire);
        uintptr_t end = atomic_load_explicit(&retired[i].end, memory_order_acquire);
        if (addr >= start && addr < end) return 1;
    }
    return 0;
}

static void retire(uintptr_t start, uintptr_t end) {
    uint64_t r = atomic_fetch_add(&retired_next, 1) % RETIRED_CAPACITY;
    // start 0 first: a reader never sees the old start with the new end.
    atomic_store_explicit(&retired[r].start, 0, memory_order_release);
    atomic_store_explicit(&retired[r].end, end, memory_order_release);
    atomic_store_explicit(&retired[r].start, start, memory_order_release);
}

void cdaxmap_range_unregister(long slot) {
    if (!valid_slot(slot)) return;
    struct range_slot *s = &ranges[slot];
    // Only the owner tears its slot down; a second call finds it FREE (or
    // claimed by a registration) and does nothing.
    int state = atomic_load_explicit(&s->state, memory_order_acquire);
    do {
        if (state != CDAXMAP_RANGE_ACTIVE && state != CDAXMAP_RANGE_REVOKED) return;
    } while (!atomic_compare_exchange_weak(&s->state, &state, CDAXMAP_RANGE_BUSY));
    retire(atomic_load_explicit(&s->start, memory_order_relaxed), atomic_load_explicit(&s->end, memory_order_relaxed));
    write_begin(s);
    atomic_store_explicit(&s->start, 0, memory_order_relaxed);
    atomic_store_explicit(&s->end, 0, memory_order_relaxed);
    atomic_store_explicit(&s->mapping_id, 0, memory_order_relaxed);
    write_end(s);
    // FREE last: a registration may claim the slot only once the seqlock is even.
    atomic_store_explicit(&s->state, CDAXMAP_RANGE_FREE, memory_order_release);
}

// MARK: - Lookup

int cdaxmap_rt_lookup(uintptr_t addr, struct range_hit *hit) {
    long high = atomic_load_explicit(&ranges_high, memory_order_acquire);
    for (long i = 0; i < high; i++) {
        int state = atomic_load_explicit(&ranges[i].state, memory_order_relaxed);
        if (state != CDAXMAP_RANGE_ACTIVE && state != CDAXMAP_RANGE_REVOKED) continue; // cheap pre-filter
        if (!read_slot(i, hit)) continue;
        if (hit->state != CDAXMAP_RANGE_ACTIVE && hit->state != CDAXMAP_RANGE_REVOKED) continue;
        if (addr < hit->start || addr >= hit->end) continue;
        return 1;
    }
    return 0;
}

uint64_t cdaxmap_range_owner(const void *addr) {
    struct range_hit hit;
    return cdaxmap_rt_lookup((uintptr_t)addr, &hit) ? hit.mapping_id : 0;
}

// MARK: - Failed extents

// Coalesces [lo, hi) into an extent of `kind` it touches or overlaps, or
// claims a new one. Bounds only grow, by CAS: a reader that sees one bound
// new and the other old sees a subset of the union, which is safe. Two marks
// racing may both claim (two extents where one would do): also safe.
static int mark_extent(struct slot_failures *f, int kind, uintptr_t lo, uintptr_t hi) {
    // Before the extent: a reader that sees the mark sees an epoch at least as new.
    uint64_t now = cdaxmap_epoch_now(), was = atomic_load_explicit(&f->epoch, memory_order_relaxed);
    while (was < now && !atomic_compare_exchange_weak(&f->epoch, &was, now)) {}
    uint32_t n = atomic_load_explicit(&f->count, memory_order_acquire);
    if (n > CDAXMAP_FAILED_CAPACITY) n = CDAXMAP_FAILED_CAPACITY;
    for (uint32_t k = 0; k < n; k++) {
        struct failed_extent *e = &f->extents[k];
        if (atomic_load_explicit(&e->kind, memory_order_acquire) != kind) continue;
        uintptr_t elo = atomic_load_explicit(&e->lo, memory_order_relaxed);
        uintptr_t ehi = atomic_load_explicit(&e->hi, memory_order_relaxed);
        if (elo > hi || lo > ehi) continue; // neither touching nor overlapping
        while (lo < elo && !atomic_compare_exchange_weak(&e->lo, &elo, lo)) {}
        while (hi > ehi && !atomic_compare_exchange_weak(&e->hi, &ehi, hi)) {}
        return 0;
    }
    uint32_t k = atomic_load_explicit(&f->count, memory_order_relaxed);
    do {
        if (k >= CDAXMAP_FAILED_CAPACITY) {
            int none = 0; // the first kind that did not fit names the overflow
            atomic_compare_exchange_strong(&f->overflowed, &none, kind);
            return -ENOSPC;
        }
    } while (!atomic_compare_exchange_weak(&f->count, &k, k + 1));
    atomic_store_explicit(&f->extents[k].lo, lo, memory_order_relaxed);
    atomic_store_explicit(&f->extents[k].hi, hi, memory_order_relaxed);
    atomic_store_explicit(&f->extents[k].kind, kind, memory_order_release);
    return 0;
}

static int valid_kind(int kind) {
    return kind == CDAXMAP_FAILED_POISON || kind == CDAXMAP_FAILED_LOST || kind == CDAXMAP_FAILED_REMOVED;
}

// Clamps [lo, hi) to the hit's range and marks it; -EINVAL when nothing is left.
static int mark_within(const struct range_hit *hit, int kind, uintptr_t lo, uintptr_t hi) {
    if (!valid_kind(kind)) return -EINVAL;
    if (lo < hit->start) lo = hit->start;
    if (hi > hit->end) hi = hit->end;
    if (lo >= hi) return -EINVAL;
    return mark_extent(&failures[hit->slot], kind, lo, hi);
}

int cdaxmap_rt_mark_hit(const struct range_hit *hit, int kind, uintptr_t lo, uintptr_t hi) {
    // The slot was reused since the lookup: the extent is not the new range's.
    if (atomic_load_explicit(&ranges[hit->slot].generation, memory_order_acquire) != hit->generation) return -EINVAL;
    return mark_within(hit, kind, lo, hi);
}

void cdaxmap_rt_count_fault(const struct range_hit *hit) {
    atomic_fetch_add_explicit(&failures[hit->slot].faults, 1, memory_order_relaxed);
}

int cdaxmap_range_mark(long slot, int kind, uintptr_t lo, uintptr_t hi) {
    struct range_hit hit;
    if (!valid_slot(slot) || !read_slot(slot, &hit)) return -EINVAL;
    if (hit.state != CDAXMAP_RANGE_ACTIVE && hit.state != CDAXMAP_RANGE_REVOKED) return -EINVAL;
    return mark_within(&hit, kind, lo, hi);
}

int cdaxmap_range_check(long slot, uintptr_t lo, uintptr_t hi, uintptr_t *failed_lo, uintptr_t *failed_hi) {
    if (!valid_slot(slot)) return 0;
    struct slot_failures *f = &failures[slot];
    int overflowed = atomic_load_explicit(&f->overflowed, memory_order_acquire);
    if (overflowed) {
        *failed_lo = atomic_load_explicit(&ranges[slot].start, memory_order_relaxed);
        *failed_hi = atomic_load_explicit(&ranges[slot].end, memory_order_relaxed);
        return overflowed;
    }
    uint32_t n = atomic_load_explicit(&f->count, memory_order_acquire);
    if (n > CDAXMAP_FAILED_CAPACITY) n = CDAXMAP_FAILED_CAPACITY;
    for (uint32_t k = 0; k < n; k++) {
        struct failed_extent *e = &f->extents[k];
        int kind = atomic_load_explicit(&e->kind, memory_order_acquire);
        if (!kind) continue; // claimed, not yet written
        uintptr_t elo = atomic_load_explicit(&e->lo, memory_order_relaxed);
        uintptr_t ehi = atomic_load_explicit(&e->hi, memory_order_relaxed);
        if (elo < hi && lo < ehi) {
            *failed_lo = elo;
            *failed_hi = ehi;
            return kind;
        }
    }
    return 0;
}

long cdaxmap_range_failed(long slot, int *kinds, uintptr_t *los, uintptr_t *his, long capacity) {
    if (!valid_slot(slot)) return 0;
    struct slot_failures *f = &failures[slot];
    uint32_t n = atomic_load_explicit(&f->count, memory_order_acquire);
    if (n > CDAXMAP_FAILED_CAPACITY) n = CDAXMAP_FAILED_CAPACITY;
    long total = 0;
    for (uint32_t k = 0; k < n; k++) {
        int kind = atomic_load_explicit(&f->extents[k].kind, memory_order_acquire);
        if (!kind) continue;
        if (total < capacity) {
            kinds[total] = kind;
            los[total] = atomic_load_explicit(&f->extents[k].lo, memory_order_relaxed);
            his[total] = atomic_load_explicit(&f->extents[k].hi, memory_order_relaxed);
        }
        total++;
    }
    return total;
}

int cdaxmap_range_overflowed(long slot) {
    return valid_slot(slot) ? atomic_load_explicit(&failures[slot].overflowed, memory_order_acquire) : 0;
}

uint64_t cdaxmap_range_marked_epoch(long slot) {
    return valid_slot(slot) ? atomic_load_explicit(&failures[slot].epoch, memory_order_acquire) : 0;
}

uint64_t cdaxmap_range_faults(long slot) {
    return valid_slot(slot) ? atomic_load_explicit(&failures[slot].faults, memory_order_relaxed) : 0;
}
