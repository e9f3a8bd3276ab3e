// Installing daxmap's SIGBUS/SIGSEGV action, once per process, in front of
// whatever was there (which becomes what chain.c hands foreign signals to);
// noticing and undoing another sigaction() that displaced it. Not
// async-signal-safe: serialised by the install lock.
#define _GNU_SOURCE
#include "CDaxMap.h"
#include "event_ring.h"
#include "handler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static _Atomic int installed;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

void cdaxmap_our_action(struct sigaction *action) {
    memset(action, 0, sizeof *action);
    action->sa_sigaction = cdaxmap_handler;
    // SA_NODEFER: a chained crash handler (the Swift backtracer) and a
    // re-fault under SIG_DFL must see the signal unblocked; sa_mask still
    // blocks both while daxmap's own code runs (see cdaxmap_set_interrupted_mask).
    action->sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action->sa_mask);
    sigaddset(&action->sa_mask, SIGBUS);
    sigaddset(&action->sa_mask, SIGSEGV);
}

static int is_ours(const struct sigaction *action) {
    return (action->sa_flags & SA_SIGINFO) && action->sa_sigaction == cdaxmap_handler;
}

// Installs daxmap's action for `signo`; what it displaced becomes the chain
// target (published before daxmap's handler can run, then corrected if
// another thread's sigaction slipped in between).
static int install_one(int signo, struct sigaction *previous) {
    struct sigaction ours, before, displaced;
    cdaxmap_our_action(&ours);
    if (sigaction(signo, NULL, &before) != 0) return -errno;
    if (is_ours(&before)) return 0;
    cdaxmap_chain_publish(signo, &before);
    if (sigaction(signo, &ours, &displaced) != 0) return -errno;
    if (is_ours(&displaced)) return 0;
    if (memcmp(&displaced, &before, sizeof before) != 0) cdaxmap_chain_publish(signo, &displaced);
    if (previous) *previous = displaced;
    return 0;
}

int cdaxmap_sigbus_install(void) {
    if (atomic_load(&installed)) return 0;
    pthread_mutex_lock(&install_lock);
    int result = 0;
    if (!atomic_load(&installed)) {
        long page = sysconf(_SC_PAGESIZE);
        if (page > 0) atomic_store_explicit(&cdaxmap_page_size, (size_t)page, memory_order_relaxed);
        result = cdaxmap_ring_open();
        if (result == 0) result = install_one(SIGBUS, &cdaxmap_original_actions[0]);
        if (result == 0) result = install_one(SIGSEGV, &cdaxmap_original_actions[1]);
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
