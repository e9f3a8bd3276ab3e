// The range table's ABA stress (see cdaxmap_test_aba_stress in CDaxMapTesting.h).
#define _GNU_SOURCE
#include "CDaxMapTesting.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define STRESS_LENGTH (4 * 4096)
#define KICK_SIGNAL SIGURG // default action: ignore, so a late one is harmless

static _Atomic int stop;

// Holds the reader inside a lookup for a few microseconds: the writer
// recycles the slot many times meanwhile.
static void kick_handler(int signo) {
    (void)signo;
    for (volatile int i = 0; i < 1000; i++) {}
}

struct stress {
    char *a, *b;
    pthread_t reader;
    _Atomic int reader_ready;
    uint64_t lookups, cycles;
    long wrong;
};

static void *reader_main(void *arg) {
    struct stress *s = arg;
    atomic_store(&s->reader_ready, 1);
    const void *probe = s->a + 100;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t id = cdaxmap_range_owner(probe);
        if (id == CDAXMAP_TEST_ID_B) s->wrong++;
        s->lookups++;
    }
    return NULL;
}

static void *writer_main(void *arg) {
    struct stress *s = arg;
    while (!atomic_load(&s->reader_ready)) {}
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        long slot = cdaxmap_range_register(s->a, STRESS_LENGTH, CDAXMAP_TEST_ID_A, CDAXMAP_POLICY_REPLACE, 4096);
        cdaxmap_range_unregister(slot);
        slot = cdaxmap_range_register(s->b, STRESS_LENGTH, CDAXMAP_TEST_ID_B, CDAXMAP_POLICY_REPLACE, 4096);
        cdaxmap_range_unregister(slot);
        if (++s->cycles % 64 == 0) pthread_kill(s->reader, KICK_SIGNAL);
    }
    return NULL;
}

long cdaxmap_test_aba_stress(unsigned milliseconds, uint64_t *lookups, uint64_t *cycles) {
    struct stress s;
    memset(&s, 0, sizeof s);
    // Memory of our own that never faults: the ranges are never touched.
    char *mem = mmap(NULL, 2 * STRESS_LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    s.a = mem;
    s.b = mem + STRESS_LENGTH;

    struct sigaction kick, previous;
    memset(&kick, 0, sizeof kick);
    kick.sa_handler = kick_handler;
    sigemptyset(&kick.sa_mask);
    if (sigaction(KICK_SIGNAL, &kick, &previous) != 0) {
        munmap(mem, 2 * STRESS_LENGTH);
        return -errno;
    }
    atomic_store(&stop, 0);
    pthread_t writer;
    pthread_create(&s.reader, NULL, reader_main, &s);
    pthread_create(&writer, NULL, writer_main, &s);
    struct timespec t = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
    atomic_store(&stop, 1);
    pthread_join(writer, NULL);
    pthread_join(s.reader, NULL);
    sigaction(KICK_SIGNAL, &previous, NULL);
    munmap(mem, 2 * STRESS_LENGTH);
    if (lookups) *lookups = s.lookups;
    if (cycles) *cycles = s.cycles;
    return s.wrong;
}
