#!/usr/bin/python3
"""A plain process (no daxmap) mapping DAX memory, to show what the kernel does.

  plainmap.py write PATH [SIZE]     map PATH shared (MAP_SYNC for files), write (devdax: read) in a loop,
                                    print READY then a count every 0.2 s; dies on SIGBUS.
  plainmap.py poison PATH OFFSET    map PATH, MADV_HWPOISON the page at OFFSET, then read it.
  plainmap.py store PATH SIZE       map the first SIZE bytes of PATH shared and store into every page in
                                    a loop (devdax too: the control runs, where no daxmap shares the device).
  plainmap.py hold PATH SIZE        map PATH shared, store into every page once, print READY, then touch
                                    nothing until SIGUSR1; then munmap, print "unmapped" and exit 0 (what
                                    the kernel does to a mapping that was idle across a removal); with
                                    PLAINMAP_KEEP_FD=1 the descriptor stays open until SIGUSR2.
  plainmap.py sentinel-write|sentinel-check PATH OFFSET LENGTH
                                    write (msync) / check a deterministic pattern; check exits 0 iff intact.
Files are mapped MAP_SHARED_VALIDATE|MAP_SYNC unless PLAINMAP_SYNC=0 (plain MAP_SHARED).
"""
import ctypes, mmap, os, signal, sys, time

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MAP_SHARED_VALIDATE, MAP_SYNC, MADV_HWPOISON = 0x03, 0x80000, 100
PROT = mmap.PROT_READ | mmap.PROT_WRITE

def open_map(path, size=None):
    fd = os.open(path, os.O_RDWR)
    if size is None:
        if path.startswith("/dev/dax"):
            name = os.path.basename(path)
            size = int(open(f"/sys/bus/dax/devices/{name}/size").read())
        else:
            size = os.fstat(fd).st_size
    sync = os.environ.get("PLAINMAP_SYNC", "1") != "0"
    flags = mmap.MAP_SHARED if path.startswith("/dev/dax") or not sync else MAP_SHARED_VALIDATE | MAP_SYNC
    addr = libc.mmap(None, size, PROT, flags, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap " + path)
    return fd, addr, size

def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        size = int(sys.argv[3]) if len(sys.argv) > 3 else None
        if size and not os.path.exists(path):
            with open(path, "wb") as f: f.truncate(size)
        fd, addr, size = open_map(path, size)
        buf = (ctypes.c_char * size).from_address(addr)
        print("READY", size, flush=True)
        n, last = 0, time.time()
        # On a device shared with daxmap's holders only read (never corrupt their
        # records); a file of its own is written.
        ro = path.startswith("/dev/dax")
        while True:
            off = (n * 4096) % size
            if ro:
                _ = buf[off]
            else:
                buf[off] = b"x"
            n += 1
            if time.time() - last > 0.2:
                print("count", n, flush=True); last = time.time()
    elif mode == "store":
        size = int(sys.argv[3])
        if not path.startswith("/dev/") and not os.path.exists(path):
            with open(path, "wb") as f: f.truncate(size)
        fd, addr, size = open_map(path, size)
        buf = (ctypes.c_char * size).from_address(addr)
        print("READY", size, flush=True)
        n, last = 0, time.time()
        while True:
            buf[(n * 4096) % size] = bytes([65 + n % 26])
            n += 1
            if time.time() - last > 0.2:
                print("count", n, flush=True); last = time.time()
    elif mode == "hold":
        size = int(sys.argv[3])
        if not os.path.exists(path):
            with open(path, "wb") as f: f.truncate(size)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2})
        fd, addr, size = open_map(path, size)
        for off in range(0, size, 4096):
            ctypes.memset(addr + off, 0x68, 1)
        print("READY", size, flush=True)
        signal.sigwait({signal.SIGUSR1})
        print("munmap", flush=True)
        r = libc.munmap(ctypes.c_void_p(addr), size)
        print("unmapped", r, flush=True)
        if os.environ.get("PLAINMAP_KEEP_FD") == "1":
            # The descriptor stays open until SIGUSR2 (a re-bind in between).
            signal.sigwait({signal.SIGUSR2})
            os.close(fd)
            print("closed", flush=True)
    elif mode.startswith("sentinel-"):
        off, length = int(sys.argv[3]), int(sys.argv[4])
        pat = (b"daxmap-control-sentinel:" * (length // 24 + 1))[:length]
        fd, addr, size = open_map(path)
        if mode == "sentinel-write":
            ctypes.memmove(addr + off, pat, length)
            libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            libc.msync(ctypes.c_void_p(addr), size, 4)  # MS_SYNC
            print("written", length, flush=True)
        else:
            ok = ctypes.string_at(addr + off, length) == pat
            print("intact" if ok else "corrupt", flush=True); sys.exit(0 if ok else 1)
    elif mode == "poison":
        off = int(sys.argv[3])
        fd, addr, size = open_map(path)
        page = addr + off
        ctypes.memset(page, 0x5a, 4096)
        r = libc.madvise(ctypes.c_void_p(page), 4096, MADV_HWPOISON)
        print("madvise", r, os.strerror(ctypes.get_errno()) if r else "", flush=True)
        v = ctypes.c_char.from_address(page).value
        print("read after poison", v, flush=True)

main()
