// File extents and block (de)allocation (extents.c): FIEMAP for badblocks of
// a DAX file in file offsets, fallocate for clearing poison. Part of CDaxMap
// (included by CDaxMap.h); not API.
#ifndef CDAXMAP_EXTENTS_H
#define CDAXMAP_EXTENTS_H

#ifdef __linux__

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One extent of a file: `length` bytes at file offset `logical` live at byte
/// `physical` of the block device (FIEMAP).
struct cdaxmap_extent {
    uint64_t logical, physical, length;
    uint32_t flags; ///< FIEMAP_EXTENT_* (UNWRITTEN 0x800, LAST 0x1, ...)
    uint32_t reserved;
};

/// The extents of the open file `fd` (FIEMAP, synced first), up to
/// `capacity` into `out`; returns how many there are in all (call again with
/// more room when it exceeds `capacity`) or -errno (-EOPNOTSUPP: no FIEMAP).
long cdaxmap_file_extents(int fd, struct cdaxmap_extent *out, long capacity);

/// fallocate(2) (a _GNU_SOURCE declaration Swift does not see). 0 or -errno.
int cdaxmap_fallocate(int fd, int mode, uint64_t offset, uint64_t length);

#ifdef __cplusplus
}
#endif

#endif // __linux__
#endif // CDAXMAP_EXTENTS_H
