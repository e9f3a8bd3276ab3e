// File and device-number helpers: glibc has these as macros or in headers
// Swift does not import (major/minor, statx attributes).
#define _GNU_SOURCE
#include "CDaxMap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

unsigned int cdaxmap_dev_major(uint64_t dev) { return major((dev_t)dev); }
unsigned int cdaxmap_dev_minor(uint64_t dev) { return minor((dev_t)dev); }

int cdaxmap_file_is_dax(int fd) {
#ifdef STATX_ATTR_DAX
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) != 0) return -errno;
    return (sx.stx_attributes_mask & STATX_ATTR_DAX) && (sx.stx_attributes & STATX_ATTR_DAX) ? 1 : 0;
#else
    (void)fd;
    return -ENOSYS;
#endif
}

int cdaxmap_memfd(const char *name) {
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

int cdaxmap_pidfd_open(int pid) {
    // 434 on every architecture (the unified syscall table); older headers lack the name.
    int fd = (int)syscall(434, pid, 0);
    return fd >= 0 ? fd : -errno;
}
