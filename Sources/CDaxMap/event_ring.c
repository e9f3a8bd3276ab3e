// The ring of fault events: many producers (the handler, on any thread), one
// consumer (the monitor thread), no locks. A full ring drops and counts.
#define _GNU_SOURCE
#include "event_ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define RING_CAPACITY 4096u // power of two

struct ring_cell {
    _Atomic uint64_t turn; // sequence + 1 once written; lets the consumer skip half-written cells
    struct cdaxmap_fault fault;
};

static struct ring_cell ring[RING_CAPACITY];
static _Atomic uint64_t ring_head; // next cell producers claim
static uint64_t ring_tail;         // consumer only
static _Atomic uint64_t ring_dropped;
static _Atomic int wake_fd = -1;
// Set by the first producer after the consumer re-armed: one eventfd write per
// drain, so a storm makes one system call, not thousands (each system call
// exit would deliver the next pending SIGBUS on top of this handler's frame).
static _Atomic int wake_pending;

void cdaxmap_events_rearm(void) { atomic_store(&wake_pending, 0); }

void cdaxmap_ring_push(struct cdaxmap_fault *f) {
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
    // A producer claimed the cell but may still be writing it (it was interrupted).
    if (atomic_load_explicit(&cell->turn, memory_order_acquire) != tail + 1) return 0;
    *out = cell->fault;
    __atomic_store_n(&ring_tail, tail + 1, __ATOMIC_RELEASE);
    return 1;
}

int cdaxmap_ring_open(void) {
    if (atomic_load(&wake_fd) >= 0) return 0;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return -errno;
    atomic_store(&wake_fd, fd);
    return 0;
}

uint64_t cdaxmap_events_dropped(void) { return atomic_load(&ring_dropped); }
int cdaxmap_sigbus_eventfd(void) { return atomic_load(&wake_fd); }
