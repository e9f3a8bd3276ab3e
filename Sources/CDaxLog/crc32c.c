// CRC-32C: hardware (SSE4.2 crc32, enabled per function by a target attribute,
// so the package needs no -msse4.2) with a portable slicing-by-1 table fallback.
#include "CDaxLog.h"
#include <string.h>

static uint32_t table[256];
static int table_ready;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t cdaxlog_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
    const uint8_t *p = data;
    crc = ~crc;
    while (length--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}


static const uint8_t zeros[8];

static uint32_t record_portable(uint32_t seed, const uint8_t *head, const void *payload, size_t length) {
    uint32_t c = cdaxlog_crc32c_portable(seed, head + 4, 20);
    if (length) c = cdaxlog_crc32c_portable(c, payload, length);
    return cdaxlog_crc32c_portable(c, zeros, (8 - (length & 7)) & 7);
}

#if defined(__x86_64__)
#include <pthread.h>

// The crc32 instruction has a latency of 3 cycles and a throughput of 1, so
// one chain runs at a third of the speed the unit can. Long buffers run three
// chains over three adjacent lanes at once and join them: the CRC register
// is linear, so the state after lanes A|B|C is shift(shift(a, L) ^ b, L) ^ c,
// where a, b, c are the lanes' own chains (b and c started at 0) and shift(x, L)
// is the state x after L zero bytes. shift is 4 table lookups, tables made
// once per lane length from the instruction itself (32 basis states run over
// L zero bytes). 4 KiB: ~2.5x faster than one chain.
#define LANE_SHORT 256
#define LANE_LONG 4096

static uint32_t shift_short[4][256], shift_long[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static void build_shift(uint32_t t[4][256], size_t lane) {
    uint32_t col[32];
    for (int i = 0; i < 32; i++) {
        uint64_t c = 1u << i;
        for (size_t k = 0; k < lane; k += 8) c = __builtin_ia32_crc32di(c, 0);
        col[i] = (uint32_t)c;
    }
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++) if (b & (1 << j)) v ^= col[8 * k + j];
            t[k][b] = v;
        }
}

static void build_shifts(void) {
    build_shift(shift_short, LANE_SHORT);
    build_shift(shift_long, LANE_LONG);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t c) {
    return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
}

__attribute__((target("sse4.2")))
static inline uint64_t crc_lanes(uint32_t t[4][256], size_t lane, uint64_t c, const uint8_t **pp, size_t *length) {
    const uint8_t *p = *pp;
    while (*length >= 3 * lane) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t k = 0; k < lane; k += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p + k, 8);
            memcpy(&v1, p + lane + k, 8);
            memcpy(&v2, p + 2 * lane + k, 8);
            c = __builtin_ia32_crc32di(c, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        c = shift(t, shift(t, (uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * lane;
        *length -= 3 * lane;
    }
    *pp = p;
    return c;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); length--; }
    if (length >= 3 * LANE_SHORT) {
        pthread_once(&shift_once, build_shifts);
        c = crc_lanes(shift_long, LANE_LONG, c, &p, &length);
        c = crc_lanes(shift_short, LANE_SHORT, c, &p, &length);
    }
    while (length >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        length -= 8;
    }
    while (length--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}


// A record's checksum covers its header from byte 4 (20 bytes), its payload,
// and zero padding to 8 bytes: the payload's last partial word, zero-extended,
// is exactly that padding, so a record is 2.5 header words and ceil(n/8) words.
__attribute__((target("sse4.2")))
static inline uint64_t head_words(uint64_t c, const uint8_t *head) {
    uint32_t w;
    uint64_t a, b;
    memcpy(&w, head + 4, 4);
    memcpy(&a, head + 8, 8);
    memcpy(&b, head + 16, 8);
    c = __builtin_ia32_crc32si((uint32_t)c, w);
    c = __builtin_ia32_crc32di(c, a);
    return __builtin_ia32_crc32di(c, b);
}

static inline uint64_t last_word(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

// One record from word `k` of its payload on (the state `c` covers the rest).
__attribute__((target("sse4.2")))
static uint32_t record_rest(uint64_t c, const uint8_t *p, size_t length, size_t k) {
    if (length - k >= 3 * LANE_SHORT) {
        // Long: the lane routine (it takes the finished value and returns one).
        uint32_t whole = crc32c_sse42(~(uint32_t)c, p + k, (length - k) & ~(size_t)7);
        c = ~whole;
        k = length & ~(size_t)7;
    }
    for (; k + 8 <= length; k += 8) {
        uint64_t v;
        memcpy(&v, p + k, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    if (k < length) c = __builtin_ia32_crc32di(c, last_word(p + k, length - k));
    return ~(uint32_t)c;
}

// Records three at a time: three independent chains keep the crc32 unit busy
// (one chain waits 3 cycles for each result), with no joining to pay.
__attribute__((target("sse4.2")))
static void records_sse42(uint32_t seed, size_t count, uint8_t *const *heads, const void *const *payloads,
                          const size_t *lengths, uint32_t *out) {
    size_t i = 0;
    for (; i + 3 <= count; i += 3) {
        const uint8_t *p0 = payloads[i], *p1 = payloads[i + 1], *p2 = payloads[i + 2];
        size_t n0 = lengths[i], n1 = lengths[i + 1], n2 = lengths[i + 2];
        uint64_t c0 = head_words(~seed, heads[i]);
        uint64_t c1 = head_words(~seed, heads[i + 1]);
        uint64_t c2 = head_words(~seed, heads[i + 2]);
        size_t m = n0 < n1 ? n0 : n1;
        if (n2 < m) m = n2;
        m &= ~(size_t)7;
        if (m > 3 * LANE_SHORT) m = 0; // long records: each on the lane routine
        size_t k = 0;
        for (; k < m; k += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p0 + k, 8);
            memcpy(&v1, p1 + k, 8);
            memcpy(&v2, p2 + k, 8);
            c0 = __builtin_ia32_crc32di(c0, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        out[i] = record_rest(c0, p0, n0, k);
        out[i + 1] = record_rest(c1, p1, n1, k);
        out[i + 2] = record_rest(c2, p2, n2, k);
    }
    for (; i < count; i++) out[i] = record_rest(head_words(~seed, heads[i]), payloads[i], lengths[i], 0);
}

int cdaxlog_crc32c_hardware(void) {
    static int cached = -1;
    int h = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&cached, h, __ATOMIC_RELAXED);
    }
    return h;
}

uint32_t cdaxlog_crc32c(uint32_t crc, const void *data, size_t length) {
    return cdaxlog_crc32c_hardware() ? crc32c_sse42(crc, data, length) : cdaxlog_crc32c_portable(crc, data, length);
}

void cdaxlog_crc32c_records(uint32_t seed, size_t count, uint8_t *const *heads, const void *const *payloads,
                            const size_t *lengths, uint32_t *out) {
    if (cdaxlog_crc32c_hardware()) { records_sse42(seed, count, heads, payloads, lengths, out); return; }
    for (size_t i = 0; i < count; i++) out[i] = record_portable(seed, heads[i], payloads[i], lengths[i]);
}
#else
int cdaxlog_crc32c_hardware(void) { return 0; }
void cdaxlog_crc32c_records(uint32_t seed, size_t count, uint8_t *const *heads, const void *const *payloads,
                            const size_t *lengths, uint32_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = record_portable(seed, heads[i], payloads[i], lengths[i]);
}
uint32_t cdaxlog_crc32c(uint32_t crc, const void *data, size_t length) {
    return cdaxlog_crc32c_portable(crc, data, length);
}
#endif
