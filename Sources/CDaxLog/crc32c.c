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

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); length--; }
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
#else
int cdaxlog_crc32c_hardware(void) { return 0; }
uint32_t cdaxlog_crc32c(uint32_t crc, const void *data, size_t length) {
    return cdaxlog_crc32c_portable(crc, data, length);
}
#endif
