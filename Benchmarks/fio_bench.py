#!/usr/bin/env python3
"""fio_bench.py [--target PATH] [--out FILE] [--seconds S]

Sequential writes with fio (Debian's fio 3.33) at 4 KiB, 64 KiB and 2 MiB on the target
`make bench` uses, so its numbers sit next to a tool users already trust:
  - /dev/daxX.Y: ioengine=dev-dax;
  - a file (default: one on /dev/shm): ioengine=libpmem, with PMEM_IS_PMEM_FORCE=1 where the
    file is not on pmem (libpmem then flushes cache lines as on pmem: the cache-line path).
Prints a table; --out writes a JSON array of {block, engine, fio_gbps, forced}. Never asserts.
"""
import argparse, json, os, shutil, subprocess, sys

BLOCKS = [(4 << 10, "4k"), (64 << 10, "64k"), (2 << 20, "2m")]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target")
    ap.add_argument("--out")
    ap.add_argument("--seconds", type=float, default=3)
    a = ap.parse_args()
    if not shutil.which("fio"):
        print("fio: not installed (make bench installs it: apt-get install fio); skipped", file=sys.stderr)
        if a.out:
            with open(a.out, "w") as f:
                json.dump([], f)  # the plot goes on without fio
        return 0
    scratch = a.target is None
    target = a.target or f"/dev/shm/daxmap-fio-{os.getpid()}"
    devdax = target.startswith("/dev/dax")
    engine = "dev-dax" if devdax else "libpmem"
    env = dict(os.environ)
    forced = False
    if not devdax and not os.environ.get("PMEM_IS_PMEM_FORCE"):
        env["PMEM_IS_PMEM_FORCE"] = "1"  # a file that is not on pmem: see the docstring
        forced = True
    rows = []
    print(f"== fio {engine} sequential writes on {target}" + (" (PMEM_IS_PMEM_FORCE=1)" if forced else "") + " ==")
    try:
        for block, name in BLOCKS:
            cmd = ["fio", "--name=seq", f"--ioengine={engine}", "--rw=write", f"--bs={name}",
                   f"--filename={target}", "--time_based", f"--runtime={a.seconds}", "--ramp_time=1",
                   "--output-format=json"]
            cmd += ["--size=256M", "--direct=1"] if not devdax else []
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            try:
                job = json.loads(r.stdout)["jobs"][0]
            except (ValueError, KeyError, IndexError):
                print(f"  {name}: fio failed: {(r.stderr or r.stdout).strip()[:200]}")
                continue
            if job.get("error"):
                print(f"  {name}: fio error {job['error']}: {(r.stderr or '').strip()[:200]}")
                continue
            gbps = job["write"]["bw_bytes"] / 1e9
            rows.append({"block": block, "engine": engine, "fio_gbps": round(gbps, 4), "forced": forced})
            print(f"  {name:>4}  {gbps:8.3f} GB/s")
    finally:
        if scratch and os.path.exists(target):
            os.unlink(target)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f)
    return 0

if __name__ == "__main__":
    sys.exit(main())
