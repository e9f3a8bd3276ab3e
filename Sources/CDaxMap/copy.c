// Guarded copies, fills and flushes: a SIGBUS/SIGSEGV in a registered range
// becomes an error return. On x86-64 they are built from the recoverable
// routines of copy_mc.c and copy_mc_avx.c (no setup per call); elsewhere, and for MADV_HWPOISON,
// under a sigsetjmp guard whose jump target and every frame between it and the
// access are C, so siglongjmp never crosses Swift (cdaxmap_call_guarded: any C body).
#define _GNU_SOURCE
#include "CDaxMap.h"
#include "copy_mc.h"
#include "guard.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#if CDAXMAP_HAVE_MC

// cpuid is slow (a VM exit under virtualisation): ask once. Threads that race
// on the first call all store the same answer; atomics keep that defined.
static _Atomic int flush_kind = -1;
static _Atomic int vectors_found = -1, vectors_cap = 2;

static int line_flush(void) {
    int kind = atomic_load_explicit(&flush_kind, memory_order_relaxed);
    if (kind < 0) atomic_store_explicit(&flush_kind, kind = cdaxmap_flush_detect(), memory_order_relaxed);
    return kind;
}

static int vectors(void) {
    int found = atomic_load_explicit(&vectors_found, memory_order_relaxed);
    if (found < 0) {
        found = cdaxmap_cpu_has_avx512f() ? 2 : cdaxmap_cpu_has_avx() ? 1 : 0;
        atomic_store_explicit(&vectors_found, found, memory_order_relaxed);
    }
    int cap = atomic_load_explicit(&vectors_cap, memory_order_relaxed);
    return found < cap ? found : cap;
}

int cdaxmap_copy_vectors(int limit) {
    if (limit >= 0) atomic_store_explicit(&vectors_cap, limit, memory_order_relaxed);
    return vectors();
}

// Streaming stores need a 64-byte aligned destination: head and tail go with
// ordinary stores, written back, so the whole range needs only the final drain.
static size_t aligned_head(char *d, size_t n) {
    size_t head = (64 - ((uintptr_t)d & 63)) & 63;
    return head > n ? n : head;
}

static int copy_written_back(char *d, const char *s, size_t n) {
    int r = cdaxmap_mc_copy(d, s, n);
    return r ? r : cdaxmap_mc_flush(line_flush(), d, n);
}

static int fill_written_back(char *d, int value, size_t n) {
    int r = cdaxmap_mc_fill(d, value, n);
    return r ? r : cdaxmap_mc_flush(line_flush(), d, n);
}

static int copy_nt(char *d, const char *s, size_t n) {
    int r;
    size_t head = aligned_head(d, n);
    if (head && (r = copy_written_back(d, s, head))) return r;
    d += head, s += head, n -= head;
    size_t body = n & ~(size_t)63;
    int v = vectors();
    r = v == 2 ? cdaxmap_mc_stream_copy_avx512(d, s, body)
      : v == 1 ? cdaxmap_mc_stream_copy_avx(d, s, body) : cdaxmap_mc_stream_copy_sse2(d, s, body);
    if (r) return r;
    return n > body ? copy_written_back(d + body, s + body, n - body) : 0;
}

static int fill_nt(char *d, int value, size_t n) {
    int r;
    size_t head = aligned_head(d, n);
    if (head && (r = fill_written_back(d, value, head))) return r;
    d += head, n -= head;
    size_t body = n & ~(size_t)63;
    int v = vectors();
    r = v == 2 ? cdaxmap_mc_stream_fill_avx512(d, value, body)
      : v == 1 ? cdaxmap_mc_stream_fill_avx(d, value, body) : cdaxmap_mc_stream_fill_sse2(d, value, body);
    if (r) return r;
    return n > body ? fill_written_back(d + body, value, n - body) : 0;
}

static int mc_result(int r, struct cdaxmap_fault *fault) {
    if (r != 0) *fault = cdaxmap_mc_fault;
    return r;
}

// Into a mapping, temporal: 32-byte moves from 256 bytes on a CPU with AVX-512, else
// the shared routine (rep movsb from 1 KiB). Measured on an EPYC with AVX2 only, rep
// movsb wrote 4 KiB into lines not in the cache faster (467 against 494 ns); on an EPYC
// with AVX-512 the moves were faster in cache and out (DaxMapping.write 4 KiB, three
// runs each: hot -6..+6 % against +9..+19 %, cold -14..+6 % against +2..+6 % over memcpy).
int cdaxmap_copy_guarded(void *dst, const void *src, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    if (nontemporal) return mc_result(copy_nt(dst, src, length), fault);
    return mc_result(length >= 256 && vectors() == 2 ? cdaxmap_mc_copy_avx(dst, src, length)
                                                     : cdaxmap_mc_copy(dst, src, length), fault);
}

// Out of a mapping: 32-byte moves from 256 bytes where AVX is there. Measured on the
// AVX2 EPYC: 20-30 % faster than the shared routine from 256 B, in cache and out; below
// 256 B the shared routine's overlapping 16-byte moves win (4.9 against 8.2 ns at 64 B).
int cdaxmap_read_guarded(void *dst, const void *src, size_t length, struct cdaxmap_fault *fault) {
    return mc_result(length >= 256 && vectors() >= 1 ? cdaxmap_mc_copy_avx(dst, src, length)
                                                     : cdaxmap_mc_copy(dst, src, length), fault);
}

int cdaxmap_fill_guarded(void *dst, int value, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    return mc_result(nontemporal ? fill_nt(dst, value, length) : cdaxmap_mc_fill(dst, value, length), fault);
}

int cdaxmap_flush_guarded(int kind, const void *addr, size_t length, struct cdaxmap_fault *fault) {
    int r = cdaxmap_mc_flush(kind, addr, length);
    if (r == 0) cdaxmap_sfence();
    return mc_result(r, fault);
}

#else // no recoverable routines: sigsetjmp guards, and no streaming stores

int cdaxmap_copy_vectors(int limit) {
    (void)limit;
    return 0;
}

int cdaxmap_copy_guarded(void *dst, const void *src, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    (void)nontemporal;
    CDAXMAP_GUARDED(fault, dst, length, src, length, memcpy(dst, src, length));
    return 0;
}

int cdaxmap_read_guarded(void *dst, const void *src, size_t length, struct cdaxmap_fault *fault) {
    CDAXMAP_GUARDED(fault, dst, length, src, length, memcpy(dst, src, length));
    return 0;
}

int cdaxmap_fill_guarded(void *dst, int value, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    (void)nontemporal;
    CDAXMAP_GUARDED(fault, dst, length, 0, 0, memset(dst, value, length));
    return 0;
}

int cdaxmap_flush_guarded(int kind, const void *addr, size_t length, struct cdaxmap_fault *fault) {
    CDAXMAP_GUARDED(fault, addr, length, 0, 0, cdaxmap_flush_range(kind, addr, length); cdaxmap_sfence());
    return 0;
}

#endif

int cdaxmap_call_guarded(int (*body)(void *context), void *context, const void *addr, size_t length,
                         struct cdaxmap_fault *fault) {
    int result = 0;
    CDAXMAP_GUARDED(fault, addr, length, 0, 0, result = body(context));
    return result;
}

#ifdef MADV_HWPOISON
struct poison_args {
    void *addr;
    size_t length;
};

static int poison_body(void *context) {
    struct poison_args *a = context;
    return madvise(a->addr, a->length, MADV_HWPOISON) == 0 ? 0 : -errno;
}
#endif

int cdaxmap_poison_guarded(void *addr, size_t length, struct cdaxmap_fault *fault) {
#ifdef MADV_HWPOISON
    // The guard covers the page; the handler widens it to the whole mapping.
    struct poison_args a = {addr, length};
    return cdaxmap_call_guarded(poison_body, &a, addr, length, fault);
#else
    (void)addr; (void)length; (void)fault;
    return -ENOSYS;
#endif
}
