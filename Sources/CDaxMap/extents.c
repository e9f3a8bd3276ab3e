// FIEMAP and fallocate for DAX files. See CDaxMapExtents.h.
#define _GNU_SOURCE
#include "CDaxMap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define BATCH 256

long cdaxmap_file_extents(int fd, struct cdaxmap_extent *out, long capacity) {
    size_t size = sizeof(struct fiemap) + BATCH * sizeof(struct fiemap_extent);
    struct fiemap *map = malloc(size);
    if (!map) return -ENOMEM;
    long total = 0;
    uint64_t start = 0;
    for (;;) {
        memset(map, 0, size);
        map->fm_start = start;
        map->fm_length = FIEMAP_MAX_OFFSET - start;
        map->fm_flags = FIEMAP_FLAG_SYNC;
        map->fm_extent_count = BATCH;
        if (ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
            int e = errno;
            free(map);
            return -e;
        }
        if (map->fm_mapped_extents == 0) break;
        int last = 0;
        for (uint32_t i = 0; i < map->fm_mapped_extents; i++) {
            const struct fiemap_extent *x = &map->fm_extents[i];
            if (total < capacity) {
                out[total].logical = x->fe_logical;
                out[total].physical = x->fe_physical;
                out[total].length = x->fe_length;
                out[total].flags = x->fe_flags;
                out[total].reserved = 0;
            }
            total++;
            start = x->fe_logical + x->fe_length;
            if (x->fe_flags & FIEMAP_EXTENT_LAST) last = 1;
        }
        if (last || map->fm_mapped_extents < BATCH) break;
    }
    free(map);
    return total;
}

int cdaxmap_fallocate(int fd, int mode, uint64_t offset, uint64_t length) {
    for (;;) {
        if (fallocate(fd, mode, (off_t)offset, (off_t)length) == 0) return 0;
        if (errno != EINTR) return -errno;
    }
}
