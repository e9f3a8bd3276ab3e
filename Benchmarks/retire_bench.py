#!/usr/bin/python3
"""Planned (retire) against unplanned (truncation) removal of one emulated device held by
P `daxmap hold` processes x H holders, and the cost of the retirer's /proc scan.

  retire_bench.py DAXMAP [--processes 50] [--holders 1] [--sleepers 1000] [--dir /dev/shm]
                  [--modes idle,busy,unplanned,scan] [--json]

idle:      planned removal (`daxmap retire FILE --then none`) of P hold processes whose writers
           append one record a second (idle processes);
busy:      the same with the writers flat out (a record every 200 us each: P x H writer threads
           compete for the cores with the retire);
unplanned: busy holds, then the file truncated to nothing (the host's real BUS_ADRERR).
For each: the retire command's wall time (start to exit) and its own duration (freeze to
unfreeze), processes released, and each hold's exit after the request, p50 and max; the fault
signals its holders saw.
scan:      `daxmap holders` of a file nobody maps (one whole /proc scan), median of 5, on the
           host as it is and with SLEEPERS unrelated sleeping processes the bench starts and
           reaps; and the idle retire again beside them.
Prints numbers; asserts nothing.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time


def start_holds(daxmap, path, processes, holders, size, work, pace):
    with open(path, "wb") as f:
        f.truncate(size)
    procs = []
    for i in range(processes):
        out = open(os.path.join(work, f"hold{i}.json"), "w")
        err = open(os.path.join(work, f"hold{i}.err"), "w+")
        p = subprocess.Popen([daxmap, "hold", path, "--holders", str(holders), "--slot", str(i),
                              "--slots", str(processes), "--acked", os.path.join(work, f"acked{i}"),
                              "--timeout", "300", "--deadline", "5000", "--pace", str(pace), "--json"],
                             stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        procs.append((p, out, err))
    deadline = time.monotonic() + 300
    for p, _, err in procs:
        while True:
            err.seek(0)
            if "READY" in err.read():
                break
            if p.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"hold {p.pid} did not get READY (exit {p.returncode})")
            time.sleep(0.02)
    return procs


def wait_all(procs, t0):
    """Exit time of each process after t0, gathered concurrently."""
    times = [None] * len(procs)
    def one(i, p):
        p.wait()
        times[i] = time.monotonic() - t0
    threads = [threading.Thread(target=one, args=(i, p)) for i, (p, _, _) in enumerate(procs)]
    for t in threads: t.start()
    for t in threads: t.join()
    return times


def summaries(procs, work):
    out = []
    for i, (p, o, e) in enumerate(procs):
        o.close(); e.close()
        try:
            text = open(os.path.join(work, f"hold{i}.json")).read().strip().splitlines()
            out.append(json.loads(text[-1]) if text else {})
        except (ValueError, IndexError):
            out.append({})
    return out


def run(daxmap, mode, processes, holders, base):
    work = tempfile.mkdtemp(prefix=f"retire-bench-{mode}-", dir=base)
    path = os.path.join(work, "device")
    size = processes * holders * (2 << 20)
    procs = start_holds(daxmap, path, processes, holders, size, work, 1_000_000 if mode == "idle" else 200)
    time.sleep(1)  # every writer running
    t0 = time.monotonic()
    retire, retire_wall = None, None
    if mode in ("idle", "busy"):
        retire = subprocess.Popen([daxmap, "retire", path, "--deadline", "30", "--then", "none", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        so, se = retire.communicate()
        retire_wall = time.monotonic() - t0
    else:
        os.truncate(path, 0)
    times = wait_all(procs, t0)
    report = None
    if retire:
        try: report = json.loads(so.strip().splitlines()[-1])
        except (ValueError, IndexError): report = {"error": se.strip()[-200:]}
    s = summaries(procs, work)
    result = {
        "mode": mode, "processes": processes, "holdersPerProcess": holders,
        "exitP50Ms": round(statistics.median(times) * 1000, 1), "exitMaxMs": round(max(times) * 1000, 1),
        "exitStatuses": sorted({p.returncode for p, _, _ in procs}),
        "faultSignals": sum(x.get("faultSignals", 0) for x in s),
        "faultsCaught": sum(x.get("faultsCaught", 0) for x in s),
        "recordsAcknowledged": sum(x.get("recordsAcknowledged", 0) for x in s),
    }
    if report is not None:
        result["retireWallMs"] = round(retire_wall * 1000, 1)
        result["retireMs"] = report.get("durationMilliseconds")
        result["retireProcessesReleased"] = report.get("processesReleased")
        result["retireReleased"] = report.get("released")
        result["retireProcessesNotified"] = report.get("processesNotified")
        result["retireStatus"] = retire.returncode
    subprocess.run(["rm", "-rf", work])
    return result


def scan_cost(daxmap, base, runs=5):
    work = tempfile.mkdtemp(prefix="retire-bench-scan-", dir=base)
    path = os.path.join(work, "device")
    with open(path, "wb") as f:
        f.truncate(2 << 20)
    walls = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run([daxmap, "holders", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.monotonic() - t0)
    subprocess.run(["rm", "-rf", work])
    return round(statistics.median(walls) * 1000, 1)


def with_sleepers(n, body):
    sleepers = [subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL) for _ in range(n)]
    try:
        return body()
    finally:
        for p in sleepers: p.kill()
        for p in sleepers: p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daxmap")
    ap.add_argument("--processes", type=int, default=50)
    ap.add_argument("--holders", type=int, default=1)
    ap.add_argument("--sleepers", type=int, default=1000)
    ap.add_argument("--dir", default="/dev/shm")
    ap.add_argument("--modes", default="idle,busy,unplanned,scan")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    modes = a.modes.split(",")
    results = [run(a.daxmap, m, a.processes, a.holders, a.dir) for m in ("idle", "busy", "unplanned") if m in modes]
    if "scan" in modes:
        procs = len([d for d in os.listdir("/proc") if d.isdigit()])
        plain = scan_cost(a.daxmap, a.dir)
        crowded = with_sleepers(a.sleepers, lambda: (scan_cost(a.daxmap, a.dir),
                                                     run(a.daxmap, "idle", a.processes, a.holders, a.dir)))
        results.append({"mode": "scan", "hostProcesses": procs, "holdersWallMs": plain,
                        "sleepers": a.sleepers, "holdersWallMsWithSleepers": crowded[0],
                        "idleWithSleepers": crowded[1]})
    if a.json:
        print(json.dumps(results))
        return
    for r in results:
        if r["mode"] == "scan":
            i = r["idleWithSleepers"]
            print(f"     scan: `daxmap holders` (one /proc scan) {r['holdersWallMs']} ms with {r['hostProcesses']} processes, "
                  f"{r['holdersWallMsWithSleepers']} ms with {r['sleepers']} sleepers more; idle retire beside them: "
                  f"{i['retireWallMs']} ms wall ({i['retireMs']:.1f} ms retire), exits p50 {i['exitP50Ms']} / max {i['exitMaxMs']} ms")
            continue
        extra = ""
        if "retireWallMs" in r:
            extra = (f"; retire {r['retireWallMs']} ms wall ({r['retireMs']:.1f} ms freeze to unfreeze), "
                     f"{r['retireProcessesNotified']} notified, {r['retireProcessesReleased']} released, released={r['retireReleased']}, exit {r['retireStatus']}")
        print(f"{r['mode']:>9}: {r['processes']} processes x {r['holdersPerProcess']} holders: exit after the request "
              f"p50 {r['exitP50Ms']} ms, max {r['exitMaxMs']} ms; fault signals {r['faultSignals']}, "
              f"writer errors {r['faultsCaught']}; exit statuses {r['exitStatuses']}{extra}")


main()
