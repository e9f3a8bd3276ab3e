// Chaining: what daxmap does with a signal that is not its own (forged, or a
// fault outside its ranges that no guard catches). It hands it to the action
// daxmap displaced, exactly as that action was installed, with the signal mask
// the kernel would have given it. Async-signal-safe: atomics, no allocation.
#define _GNU_SOURCE // sigorset
#include "CDaxMap.h"
#include "handler.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>

#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO 5
#endif

static _Atomic uint64_t chained_count;

uint64_t cdaxmap_events_chained(void) { return atomic_load(&chained_count); }

// MARK: - Chain targets

// What daxmap chains to, per signal: two copies and a version whose low bit
// names the current one. reinstall writes the other copy, then bumps the
// version (release); the handler reads version, copy, version again and
// retries on a change, so it never acts on a half-written struct sigaction.
struct chain_target {
    _Atomic unsigned version;
    struct sigaction copies[2];
};
static struct chain_target chain_targets[2]; // [0] SIGBUS, [1] SIGSEGV
// What was installed before daxmap: used when the current target calls
// daxmap's handler back (it had saved daxmap as its own previous).
struct sigaction cdaxmap_original_actions[2];

static int signal_index(int signo) { return signo == SIGSEGV; }

// One writer at a time: the install lock serialises install.c, but the
// handler publishes too (rearm below) and cannot take a mutex; both take this
// flag, the handler only if it is free.
static _Atomic int chain_writer;

static void publish_locked(int signo, const struct sigaction *action) {
    struct chain_target *t = &chain_targets[signal_index(signo)];
    unsigned v = atomic_load_explicit(&t->version, memory_order_relaxed);
    t->copies[(v + 1) & 1] = *action;
    atomic_store_explicit(&t->version, v + 1, memory_order_release);
}

void cdaxmap_chain_publish(int signo, const struct sigaction *action) {
    int free_ = 0;
    while (!atomic_compare_exchange_weak(&chain_writer, &free_, 1)) free_ = 0;
    publish_locked(signo, action);
    atomic_store(&chain_writer, 0);
}

static void read_target(int signo, struct sigaction *out) {
    struct chain_target *t = &chain_targets[signal_index(signo)];
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned v = atomic_load_explicit(&t->version, memory_order_acquire);
        *out = t->copies[v & 1];
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&t->version, memory_order_relaxed) == v) return;
    }
}

// MARK: - Signal masks

// A pre-remove storm keeps a SIGBUS pending nearly all the time, and the
// kernel delivers the next pending signal before the handler runs a single
// instruction: had SA_NODEFER its way, frames would pile up until the signal
// stack overflows. So sa_mask blocks SIGBUS and SIGSEGV while the handler runs
// (SA_NODEFER only keeps the signal itself out of the mask). A normal return
// restores the interrupted mask from the signal frame; every path that leaves
// otherwise sets the mask itself: a guard's siglongjmp (savemask 0) restores
// the interrupted mask, chaining sets the mask the chained action would have
// had from the kernel, dying unblocks the signal.
void cdaxmap_set_interrupted_mask(const void *context) {
    if (context) {
        pthread_sigmask(SIG_SETMASK, &((const ucontext_t *)context)->uc_sigmask, NULL);
    } else {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGBUS);
        sigaddset(&set, SIGSEGV);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
}

// The mask the kernel gives `action`'s handler: the interrupted mask, its
// sa_mask, and the signal itself unless SA_NODEFER; set in one call, so a
// pending SIGBUS cannot slip in between.
static void set_mask_for(int signo, const struct sigaction *action, const void *context) {
    if (!context) {
        cdaxmap_set_interrupted_mask(NULL);
        return;
    }
    sigset_t set;
    sigorset(&set, &((const ucontext_t *)context)->uc_sigmask, &action->sa_mask);
    if (!(action->sa_flags & SA_NODEFER)) sigaddset(&set, signo);
    pthread_sigmask(SIG_SETMASK, &set, NULL);
}

// MARK: - Chaining

// The signal this thread is handing to a chain target right now: if that
// target calls daxmap's handler with it again (it saved daxmap as its own
// previous action before a reinstall), daxmap goes on down the chain instead
// of back up. A target that never returns leaves it set; only a later signal
// whose siginfo sits at the very same address is then misread as a call-back,
// and goes to the original action instead of the current target.
static __thread const siginfo_t *chaining_info __attribute__((tls_model("initial-exec")));
static __thread int chaining_depth __attribute__((tls_model("initial-exec")));

static void call_action(int signo, const struct sigaction *action, siginfo_t *info, void *context) {
    const siginfo_t *outer_info = chaining_info;
    int outer_depth = chaining_depth;
    chaining_info = info;
    chaining_depth = outer_depth + 1;
    set_mask_for(signo, action, context);
    if (action->sa_flags & SA_SIGINFO) action->sa_sigaction(signo, info, context);
    else action->sa_handler(signo);
    chaining_info = outer_info;
    chaining_depth = outer_depth;
}

// MARK: - After a chained action returns

static _Atomic uint64_t rearmed_count;

uint64_t cdaxmap_events_rearmed(void) { return atomic_load(&rearmed_count); }

// A signal the kernel will not raise again when the handler returns: sent by a
// process (si_code <= 0), or an asynchronous memory-failure notice. A
// synchronous fault re-executes its access instead.
static int does_not_recur(const siginfo_t *info) {
    return info->si_code <= 0 || info->si_code == BUS_MCEERR_AO;
}

// The chained action returned and daxmap's own is no longer installed (the
// Swift runtime's crash handler resets SIGBUS/SIGSEGV to SIG_DFL and returns,
// expecting the fault to recur and kill). The process must never live on
// without daxmap's handler: a later real fault in a mapping would kill it.
//  - SIG_DFL and a signal that does not recur: the action meant the process to
//    die of it; the default action is taken now (raise, unblocked).
//  - SIG_DFL and a synchronous fault: returning re-executes the access, which
//    dies by the default action.
//  - any other disposition: daxmap's action goes back in front
//    (sigaction is async-signal-safe) and the one it displaced becomes the
//    chain target, as DaxMonitor.reinstallHandler() would do.
static void rearm_after_chain(int signo, const siginfo_t *info) {
    struct sigaction current;
    if (sigaction(signo, NULL, &current) != 0) return;
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == cdaxmap_handler) return;
    if (current.sa_handler == SIG_DFL) {
        if (!does_not_recur(info)) return;
        cdaxmap_set_interrupted_mask(NULL);
        raise(signo);
        return; // not reached: the default action of SIGBUS/SIGSEGV ends the process
    }
    struct sigaction ours, displaced;
    memset(&ours, 0, sizeof ours);
    cdaxmap_our_action(&ours);
    if (sigaction(signo, &ours, &displaced) != 0) return;
    atomic_fetch_add(&rearmed_count, 1);
    if ((displaced.sa_flags & SA_SIGINFO) && displaced.sa_sigaction == cdaxmap_handler) return;
    // A publish in progress on this thread (interrupted) or another (a
    // concurrent install, which publishes what it displaces): skip ours.
    int free_ = 0;
    if (!atomic_compare_exchange_strong(&chain_writer, &free_, 1)) return;
    publish_locked(signo, &displaced);
    atomic_store(&chain_writer, 0);
}

// Hands a signal that is not ours to whoever had it before us, exactly as they
// installed it; for SIG_DFL, restore and let the fault (or a re-raise) take
// effect. When the action returns, daxmap's own must still be there, or the
// process must die as the action intended (rearm_after_chain).
void cdaxmap_chain(int signo, siginfo_t *info, void *context) {
    atomic_fetch_add(&chained_count, 1);
    struct sigaction target;
    memset(&target, 0, sizeof target); // SIG_DFL
    int depth = chaining_info == info ? chaining_depth : 0;
    if (depth == 0) read_target(signo, &target);
    else if (depth == 1) target = cdaxmap_original_actions[signal_index(signo)];
    // deeper: the chain loops; end it with the default action
    // sa_handler and sa_sigaction share storage: SIG_DFL and SIG_IGN read the same through either.
    if (target.sa_handler == SIG_IGN) return;
    if (target.sa_handler != SIG_DFL) {
        call_action(signo, &target, info, context);
        if (chaining_depth == 0) rearm_after_chain(signo, info); // the outermost chaining only
        return;
    }
    // SIG_DFL: a real fault re-executes the access and dies; a sent signal must be raised again.
    signal(signo, SIG_DFL);
    cdaxmap_set_interrupted_mask(NULL);
    if (does_not_recur(info)) raise(signo);
}
