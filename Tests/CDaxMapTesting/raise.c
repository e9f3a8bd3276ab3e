// Test raisers: signals a test sends itself to drive the handler's paths.
#define _GNU_SOURCE
#include "CDaxMapTesting.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int send_to_self(int signo, int code, void *addr, int addr_lsb, int process_wide) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = signo;
    info.si_code = code;
    info.si_addr = addr;
    if (signo == SIGBUS) info.si_addr_lsb = (short)addr_lsb;
    long r = process_wide
        ? syscall(SYS_rt_sigqueueinfo, getpid(), signo, &info)
        : syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), signo, &info);
    return r == 0 ? 0 : -errno;
}

int cdaxmap_test_raise_sigbus(int code, void *addr, int addr_lsb) {
    return send_to_self(SIGBUS, code, addr, addr_lsb, 0);
}

struct raise_args {
    int code;
    void *addr;
    int addr_lsb;
};

static int raise_body(void *context) {
    struct raise_args *a = context;
    return cdaxmap_test_raise_sigbus(a->code, a->addr, a->addr_lsb);
}

int cdaxmap_test_raise_sigbus_guarded(int code, void *addr, int addr_lsb, struct cdaxmap_fault *fault) {
    struct raise_args a = {code, addr, addr_lsb};
    return cdaxmap_call_guarded(raise_body, &a, addr, 1, fault);
}

int cdaxmap_test_forge_signal(int signo, int code, void *addr, int process_wide) {
    if (code > 0) return -EINVAL; // not a forgery: use cdaxmap_test_raise_sigbus
    return send_to_self(signo, code, addr, 0, process_wide);
}

static int load_body(void *context) {
    return *(volatile const unsigned char *)context;
}

int cdaxmap_test_guarded_load(const void *addr, struct cdaxmap_fault *fault) {
    int r = cdaxmap_call_guarded(load_body, (void *)addr, addr, 1, fault);
    return r < 0 ? r : 0;
}

static _Atomic uint64_t recorded;
static _Atomic int recorded_code;

static void recorder(int signo, siginfo_t *info, void *context) {
    (void)context;
    atomic_store(&recorded_code, info->si_code);
    atomic_fetch_add(&recorded, 1);
    if (info->si_code > 0) signal(signo, SIG_DFL); // a real fault: die by it, do not loop
}

int cdaxmap_test_install_recorder(int signo) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = recorder;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, NULL) == 0 ? 0 : -errno;
}

uint64_t cdaxmap_test_recorded(void) { return atomic_load(&recorded); }
int cdaxmap_test_recorded_code(void) { return atomic_load(&recorded_code); }

// Like the Swift runtime's crash handler: resets the signal's disposition
// (SIG_DFL, or SIG_IGN when `ignore`) and returns, counting in `recorded`.
static _Atomic int resetter_ignores;

static void resetter(int signo, siginfo_t *info, void *context) {
    (void)context;
    atomic_store(&recorded_code, info->si_code);
    atomic_fetch_add(&recorded, 1);
    signal(signo, atomic_load(&resetter_ignores) ? SIG_IGN : SIG_DFL);
}

int cdaxmap_test_install_resetter(int signo, int ignore) {
    atomic_store(&resetter_ignores, ignore);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = resetter;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, NULL) == 0 ? 0 : -errno;
}
