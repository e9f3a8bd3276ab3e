// Private to the shim: the fault-recoverable routines of copy_mc.c and copy_mc_avx.c.
#ifndef CDAXMAP_COPY_MC_H
#define CDAXMAP_COPY_MC_H

#include <stddef.h>
#include <stdint.h>
#include "CDaxMap.h"
#include "CDaxMapFlush.h"

#if defined(__x86_64__)
#define CDAXMAP_HAVE_MC 1

/// Each returns 0, or -EFAULT when the handler caught a synchronous fault in
/// one (in a registered mapping, or at an address no slot holds:
/// CDAXMAP_EVENT_UNREGISTERED); the fault is then in the thread's cdaxmap_mc_fault.
int cdaxmap_mc_copy(void *dst, const void *src, size_t n);
int cdaxmap_mc_fill(void *dst, int value, size_t n);
/// Writes back the cache lines of [addr, addr+n) with `kind`; no drain.
int cdaxmap_mc_flush(int kind, const void *addr, size_t n);
/// Streaming stores: `dst` 64-byte aligned, `n` a multiple of 64; no drain.
int cdaxmap_mc_stream_copy_sse2(void *dst, const void *src, size_t n);
int cdaxmap_mc_stream_fill_sse2(void *dst, int value, size_t n);
/// 32-byte moves (AVX): the temporal copy for `n` >= 32, and streaming stores.
int cdaxmap_mc_copy_avx(void *dst, const void *src, size_t n);
int cdaxmap_mc_stream_copy_avx(void *dst, const void *src, size_t n);
int cdaxmap_mc_stream_fill_avx(void *dst, int value, size_t n);
int cdaxmap_mc_stream_copy_avx512(void *dst, const void *src, size_t n);
int cdaxmap_mc_stream_fill_avx512(void *dst, int value, size_t n);

extern const char cdaxmap_mc_text_begin[], cdaxmap_mc_text_end[];
extern const char cdaxmap_mc_avx_begin[], cdaxmap_mc_avx_end[];
extern const char cdaxmap_mc_fixup[], cdaxmap_mc_fixup_avx[];

/// Where to resume a fault at `ip`, or 0 when `ip` is not in the routines above:
/// the baseline routines (copy_mc.c) and the AVX ones (copy_mc_avx.c) each
/// lie in a text range of their own, with a fixup of their own.
static inline uintptr_t cdaxmap_mc_fixup_for(uintptr_t ip) {
    if (ip >= (uintptr_t)cdaxmap_mc_text_begin && ip < (uintptr_t)cdaxmap_mc_text_end)
        return (uintptr_t)cdaxmap_mc_fixup;
    if (ip >= (uintptr_t)cdaxmap_mc_avx_begin && ip < (uintptr_t)cdaxmap_mc_avx_end)
        return (uintptr_t)cdaxmap_mc_fixup_avx;
    return 0;
}

/// The last fault a routine above was resumed from, on this thread.
extern __thread struct cdaxmap_fault cdaxmap_mc_fault __attribute__((tls_model("initial-exec")));
#endif

#endif
