// Cache flush and fence instructions as always-inline functions. Inline asm in
// a header needs no compiler flags (no unsafeFlags), and Swift inlines these.
// Async-signal-safe: they are single instructions.
#ifndef CDAXMAP_FLUSH_H
#define CDAXMAP_FLUSH_H

#ifdef __linux__

#include <stddef.h>
#include <stdint.h>

#define CDAXMAP_INLINE static inline __attribute__((always_inline))
#define CDAXMAP_CACHELINE 64

/// Flush instruction chosen once per process from cpuid (best first).
enum cdaxmap_flush_kind {
    CDAXMAP_FLUSH_NONE = 0,       ///< no instruction available (not x86-64)
    CDAXMAP_FLUSH_CLFLUSH = 1,    ///< serialising, evicts the line
    CDAXMAP_FLUSH_CLFLUSHOPT = 2, ///< weakly ordered, evicts the line
    CDAXMAP_FLUSH_CLWB = 3,       ///< weakly ordered, may keep the line cached
};

#if defined(__x86_64__)

// %rbx is saved around cpuid instead of declared clobbered: inlined into a
// frame with a dynamically aligned alloca (ASan's), %rbx is the base pointer,
// and a "=b" output there fails to compile — silently, with swiftc 6.3.1,
// which then emits an object with no relocations (found by `make asan`).
CDAXMAP_INLINE void cdaxmap_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    uint64_t rbx;
    __asm__ volatile("xchgq %%rbx, %q1\n\tcpuid\n\txchgq %%rbx, %q1"
                     : "=a"(r[0]), "=&r"(rbx), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
    r[1] = (uint32_t)rbx;
}

/// The best flush instruction this CPU has: clwb > clflushopt > clflush.
CDAXMAP_INLINE int cdaxmap_flush_detect(void) {
    uint32_t r[4];
    cdaxmap_cpuid(0, 0, r);
    uint32_t max = r[0];
    if (max >= 7) {
        cdaxmap_cpuid(7, 0, r);
        if (r[1] & (1u << 24)) return CDAXMAP_FLUSH_CLWB;
        if (r[1] & (1u << 23)) return CDAXMAP_FLUSH_CLFLUSHOPT;
    }
    cdaxmap_cpuid(1, 0, r);
    if (r[3] & (1u << 19)) return CDAXMAP_FLUSH_CLFLUSH;
    return CDAXMAP_FLUSH_NONE;
}

/// Whether the CPU and OS support AVX (32-byte) moves (cpuid + xgetbv).
CDAXMAP_INLINE int cdaxmap_cpu_has_avx(void) {
    uint32_t r[4];
    cdaxmap_cpuid(1, 0, r);
    if (!(r[2] & (1u << 27)) || !(r[2] & (1u << 28))) return 0; // OSXSAVE, AVX
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0x6) == 0x6; // XMM and YMM state enabled
}

/// Whether the CPU and OS support AVX-512F stores (cpuid + xgetbv).
CDAXMAP_INLINE int cdaxmap_cpu_has_avx512f(void) {
    uint32_t r[4];
    cdaxmap_cpuid(0, 0, r);
    if (r[0] < 7) return 0;
    cdaxmap_cpuid(1, 0, r);
    if (!(r[2] & (1u << 27))) return 0; // OSXSAVE
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6) return 0; // XMM, YMM, opmask, ZMM state enabled
    cdaxmap_cpuid(7, 0, r);
    return (r[1] & (1u << 16)) != 0;
}

CDAXMAP_INLINE void cdaxmap_clwb(const void *p) {
    __asm__ volatile(".byte 0x66, 0x0f, 0xae, 0x30" ::"a"(p) : "memory"); // clwb (%rax)
}
CDAXMAP_INLINE void cdaxmap_clflushopt(const void *p) {
    __asm__ volatile(".byte 0x66; clflush %0" : "+m"(*(volatile char *)p));
}
CDAXMAP_INLINE void cdaxmap_clflush(const void *p) {
    __asm__ volatile("clflush %0" : "+m"(*(volatile char *)p));
}
/// Orders earlier flushes and non-temporal stores before later stores.
CDAXMAP_INLINE void cdaxmap_sfence(void) { __asm__ volatile("sfence" ::: "memory"); }
/// A spin-wait hint: yields the core's pipeline to its sibling thread.
CDAXMAP_INLINE void cdaxmap_pause(void) { __asm__ volatile("pause" ::: "memory"); }

#else

CDAXMAP_INLINE int cdaxmap_flush_detect(void) { return CDAXMAP_FLUSH_NONE; }
CDAXMAP_INLINE int cdaxmap_cpu_has_avx(void) { return 0; }
CDAXMAP_INLINE int cdaxmap_cpu_has_avx512f(void) { return 0; }
CDAXMAP_INLINE void cdaxmap_clwb(const void *p) { (void)p; }
CDAXMAP_INLINE void cdaxmap_clflushopt(const void *p) { (void)p; }
CDAXMAP_INLINE void cdaxmap_clflush(const void *p) { (void)p; }
CDAXMAP_INLINE void cdaxmap_sfence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
CDAXMAP_INLINE void cdaxmap_pause(void) {}

#endif

/// Flushes every cache line of [addr, addr+length) with `kind`; no fence.
CDAXMAP_INLINE void cdaxmap_flush_range(int kind, const void *addr, size_t length) {
    uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(CDAXMAP_CACHELINE - 1);
    uintptr_t end = (uintptr_t)addr + length;
    switch (kind) {
    case CDAXMAP_FLUSH_CLWB:
        for (; p < end; p += CDAXMAP_CACHELINE) cdaxmap_clwb((const void *)p);
        break;
    case CDAXMAP_FLUSH_CLFLUSHOPT:
        for (; p < end; p += CDAXMAP_CACHELINE) cdaxmap_clflushopt((const void *)p);
        break;
    case CDAXMAP_FLUSH_CLFLUSH:
        for (; p < end; p += CDAXMAP_CACHELINE) cdaxmap_clflush((const void *)p);
        break;
    default:
        break;
    }
}

#endif // __linux__
#endif // CDAXMAP_FLUSH_H
