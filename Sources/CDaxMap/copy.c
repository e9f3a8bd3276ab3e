// Copies and fills: non-temporal variants, and guarded variants that turn a
// SIGBUS/SIGSEGV in a registered range into an error return: ordinary stores
// through the recoverable routines of copy_mc.c (x86-64), the rest under a
// sigsetjmp guard whose jump target and every frame between it and the access
// are C, so siglongjmp never crosses Swift.
#define _GNU_SOURCE
#include "CDaxMap.h"
#include "copy_mc.h"
#include "guard.h"

#include <errno.h>
#include <immintrin.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__x86_64__)

static int has_avx512 = -1;
static int flush_kind = -1;

// cpuid is slow (a VM exit under virtualisation): ask once.
static int line_flush(void) {
    if (flush_kind < 0) flush_kind = cdaxmap_flush_detect();
    return flush_kind;
}

__attribute__((target("avx512f")))
static void copy_nt_avx512(char *d, const char *s, size_t n) {
    for (; n >= 256; n -= 256, d += 256, s += 256) {
        __m512i a = _mm512_loadu_si512((const void *)s);
        __m512i b = _mm512_loadu_si512((const void *)(s + 64));
        __m512i c = _mm512_loadu_si512((const void *)(s + 128));
        __m512i e = _mm512_loadu_si512((const void *)(s + 192));
        _mm512_stream_si512((void *)d, a);
        _mm512_stream_si512((void *)(d + 64), b);
        _mm512_stream_si512((void *)(d + 128), c);
        _mm512_stream_si512((void *)(d + 192), e);
    }
    for (; n >= 64; n -= 64, d += 64, s += 64) _mm512_stream_si512((void *)d, _mm512_loadu_si512((const void *)s));
    if (n) memcpy(d, s, n);
}

__attribute__((target("avx512f")))
static void fill_nt_avx512(char *d, int value, size_t n) {
    __m512i v = _mm512_set1_epi8((char)value);
    for (; n >= 64; n -= 64, d += 64) _mm512_stream_si512((void *)d, v);
    if (n) memset(d, value, n);
}

static void copy_nt_sse2(char *d, const char *s, size_t n) {
    for (; n >= 64; n -= 64, d += 64, s += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    if (n) memcpy(d, s, n);
}

static void fill_nt_sse2(char *d, int value, size_t n) {
    __m128i v = _mm_set1_epi8((char)value);
    for (; n >= 16; n -= 16, d += 16) _mm_stream_si128((__m128i *)d, v);
    if (n) memset(d, value, n);
}

// Streaming stores need a 64-byte aligned destination: head with ordinary
// stores, flushed, so the whole range needs only the final sfence.
static size_t aligned_head(char *d, size_t n) {
    size_t head = (64 - ((uintptr_t)d & 63)) & 63;
    return head > n ? n : head;
}

void cdaxmap_copy_nt(void *dst, const void *src, size_t length) {
    char *d = dst;
    const char *s = src;
    size_t head = aligned_head(d, length);
    if (head) {
        memcpy(d, s, head);
        cdaxmap_flush_range(line_flush(), d, head);
        d += head; s += head; length -= head;
    }
    if (has_avx512 < 0) has_avx512 = cdaxmap_cpu_has_avx512f();
    size_t tail = length & 63;
    if (has_avx512) copy_nt_avx512(d, s, length - tail); else copy_nt_sse2(d, s, length - tail);
    if (tail) {
        memcpy(d + length - tail, s + length - tail, tail);
        cdaxmap_flush_range(line_flush(), d + length - tail, tail);
    }
}

void cdaxmap_fill_nt(void *dst, int value, size_t length) {
    char *d = dst;
    size_t head = aligned_head(d, length);
    if (head) {
        memset(d, value, head);
        cdaxmap_flush_range(line_flush(), d, head);
        d += head; length -= head;
    }
    if (has_avx512 < 0) has_avx512 = cdaxmap_cpu_has_avx512f();
    size_t tail = length & 63;
    if (has_avx512) fill_nt_avx512(d, value, length - tail); else fill_nt_sse2(d, value, length - tail);
    if (tail) {
        memset(d + length - tail, value, tail);
        cdaxmap_flush_range(line_flush(), d + length - tail, tail);
    }
}

#else

void cdaxmap_copy_nt(void *dst, const void *src, size_t length) { memcpy(dst, src, length); }
void cdaxmap_fill_nt(void *dst, int value, size_t length) { memset(dst, value, length); }

#endif

// Non-temporal copies and fills (and other architectures) run under a sigsetjmp guard.
static int copy_nt_guarded(void *dst, const void *src, size_t length, struct cdaxmap_fault *fault) {
    CDAXMAP_GUARDED(fault, dst, length, src, length, cdaxmap_copy_nt(dst, src, length));
    return 0;
}

static int fill_nt_guarded(void *dst, int value, size_t length, struct cdaxmap_fault *fault) {
    CDAXMAP_GUARDED(fault, dst, length, 0, 0, cdaxmap_fill_nt(dst, value, length));
    return 0;
}

#if CDAXMAP_HAVE_MC
// Ordinary stores go through the recoverable routines of copy_mc.c: no setup per call.
static int mc_result(int r, struct cdaxmap_fault *fault) {
    if (r != 0) *fault = cdaxmap_mc_fault;
    return r;
}

int cdaxmap_copy_guarded(void *dst, const void *src, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    if (nontemporal) return copy_nt_guarded(dst, src, length, fault);
    return mc_result(cdaxmap_mc_copy(dst, src, length), fault);
}

int cdaxmap_fill_guarded(void *dst, int value, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    if (nontemporal) return fill_nt_guarded(dst, value, length, fault);
    return mc_result(cdaxmap_mc_fill(dst, value, length), fault);
}

int cdaxmap_flush_guarded(int kind, const void *addr, size_t length, struct cdaxmap_fault *fault) {
    return mc_result(cdaxmap_mc_flush(kind, addr, length), fault);
}
#else
int cdaxmap_copy_guarded(void *dst, const void *src, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    if (nontemporal) return copy_nt_guarded(dst, src, length, fault);
    CDAXMAP_GUARDED(fault, dst, length, src, length, memcpy(dst, src, length));
    return 0;
}

int cdaxmap_fill_guarded(void *dst, int value, size_t length, int nontemporal,
                         struct cdaxmap_fault *fault) {
    if (nontemporal) return fill_nt_guarded(dst, value, length, fault);
    CDAXMAP_GUARDED(fault, dst, length, 0, 0, memset(dst, value, length));
    return 0;
}

int cdaxmap_flush_guarded(int kind, const void *addr, size_t length, struct cdaxmap_fault *fault) {
    CDAXMAP_GUARDED(fault, addr, length, 0, 0, cdaxmap_flush_range(kind, addr, length); cdaxmap_sfence());
    return 0;
}
#endif

int cdaxmap_poison_guarded(void *addr, size_t length, struct cdaxmap_fault *fault) {
#ifdef MADV_HWPOISON
    int result = 0;
    // The guard covers the page; the handler widens it to the whole mapping.
    CDAXMAP_GUARDED(fault, addr, length, 0, 0, result = madvise(addr, length, MADV_HWPOISON) == 0 ? 0 : -errno);
    return result;
#else
    (void)addr; (void)length; (void)fault;
    return -ENOSYS;
#endif
}
