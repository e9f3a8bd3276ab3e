// A guarded copy racing close() (see cdaxmap_test_close_race in CDaxMapTesting.h).
#define _GNU_SOURCE
#include "CDaxMapTesting.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#define RACE_LENGTH (4 * 4096)
#define RACE_ID 0x0c105e0000000001ull

struct race {
    char *range;
    _Atomic int copying;
    int result;
    struct cdaxmap_fault fault;
};

static void *copier(void *arg) {
    struct race *r = arg;
    char buffer[256];
    cdaxmap_thread_prepare();
    for (unsigned n = 0;; n++) {
        struct cdaxmap_fault fault;
        memset(&fault, 0, sizeof fault);
        int c = cdaxmap_copy_guarded(buffer, r->range + (n * 64) % (RACE_LENGTH - 256), 256, 0, &fault);
        if (n == 0) atomic_store(&r->copying, 1);
        if (c != 0) {
            r->result = c;
            r->fault = fault;
            return NULL;
        }
    }
}

long cdaxmap_test_close_race(unsigned iterations, long *unregistered) {
    long wrong = 0, caught_unregistered = 0;
    int e = cdaxmap_sigbus_install();
    if (e) return e;
    for (unsigned i = 0; i < iterations; i++) {
        char *range = mmap(NULL, RACE_LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (range == MAP_FAILED) return -errno;
        long slot = cdaxmap_range_register(range, RACE_LENGTH, RACE_ID, CDAXMAP_POLICY_REPLACE, 4096);
        if (slot < 0) {
            munmap(range, RACE_LENGTH);
            return slot;
        }
        struct race r;
        memset(&r, 0, sizeof r);
        r.range = range;
        pthread_t t;
        pthread_create(&t, NULL, copier, &r);
        while (!atomic_load(&r.copying)) sched_yield();
        for (unsigned spin = 0; spin < (i % 8) * 500; spin++) __asm__ volatile("" ::: "memory");
        if (i % 2) { // close(): the reservation first, then the slot ...
            mmap(range, RACE_LENGTH, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            cdaxmap_range_unregister(slot);
        } else { // ... or the slot first: faults then find no slot at all
            cdaxmap_range_unregister(slot);
            mmap(range, RACE_LENGTH, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        }
        pthread_join(t, NULL);
        int attributed = r.fault.mapping_id == RACE_ID && !(r.fault.flags & CDAXMAP_EVENT_UNREGISTERED);
        int unowned = r.fault.mapping_id == 0 && (r.fault.flags & CDAXMAP_EVENT_UNREGISTERED);
        if (r.result != -EFAULT || r.fault.signo != SIGSEGV || !(attributed || unowned)) wrong++;
        if (unowned) caught_unregistered++;
        munmap(range, RACE_LENGTH);
    }
    if (unregistered) *unregistered = caught_unregistered;
    return wrong;
}
