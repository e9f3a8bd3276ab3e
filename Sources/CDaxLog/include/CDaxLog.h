// CDaxLog: CRC-32C for DaxLog. Not API: import DaxLog instead.
#ifndef CDAXLOG_H
#define CDAXLOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes,
/// continuing from `crc` (pass 0 to start). The SSE4.2 `crc32` instruction
/// where the CPU has it (chosen once, through a target attribute: no compiler
/// flag), a table-driven fallback elsewhere. Same results either way.
uint32_t cdaxlog_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable fallback alone (tests compare the two).
uint32_t cdaxlog_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// The checksums of `count` records (DaxLog's format): record `i` is the 20
/// header bytes at `heads[i] + 4`, then `lengths[i]` bytes at
/// `payloads[i]`, then zeros to a multiple of 8; each continues from `seed`
/// and its checksum goes to `out[i]`. Records are taken three at a time
/// (independent chains: the crc32 instruction's latency is hidden).
void cdaxlog_crc32c_records(uint32_t seed, size_t count, uint8_t *const *heads, const void *const *payloads,
                            const size_t *lengths, uint32_t *out);

/// 1 when cdaxlog_crc32c uses the SSE4.2 instruction.
int cdaxlog_crc32c_hardware(void);

#ifdef __cplusplus
}
#endif

#endif
