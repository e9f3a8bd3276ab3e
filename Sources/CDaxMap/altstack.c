// Per-thread setup. Alternate signal stacks: the handler runs SA_ONSTACK, so a fault on a thread
// whose stack is exhausted (or a storm of nested deliveries) still has room.
#define _GNU_SOURCE // gettid, pthread_setname_np
#include "CDaxMap.h"
#include "handler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

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

// The slow path, once per thread, out of line: every guarded access calls
// cdaxmap_thread_prepare, whose fast path is then a TLS load with no prologue.
__attribute__((noinline, cold)) static int thread_prepare_slow(void) {
    cdaxmap_cached_tid = (int32_t)syscall(SYS_gettid);
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

int cdaxmap_thread_prepare(void) {
    if (__builtin_expect(altstack_ready, 1)) return 0;
    return thread_prepare_slow();
}

int cdaxmap_thread_set_name(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    return -pthread_setname_np(pthread_self(), short_name);
}

int cdaxmap_thread_get_name(char *buffer, size_t size) {
    return -pthread_getname_np(pthread_self(), buffer, size);
}
