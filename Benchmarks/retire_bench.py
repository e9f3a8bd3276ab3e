#!/usr/bin/python3
"""Planned vs unplanned removal of one emulated device held by P processes x H holders.

  retire_bench.py DAXMAP [--processes 50] [--holders 4] [--dir /dev/shm] [--json]

Planned: `daxmap retire FILE --then none`; for each `daxmap hold` process, the time from the
request to its exit (it exits once its holders let go), p50 and max, and the fault signals
its holders saw. Unplanned: the same set-up, then the file is truncated to nothing (the
host's real BUS_ADRERR: the emulated device's memory is gone under the writers); the time
to every process's exit and the fault signals its holders' writers took. Both: the
writers' errors (a planned removal stops them with a thrown error, not a signal) and the
records acknowledged. Prints numbers; asserts nothing.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time


def start_holds(daxmap, path, processes, holders, size, work):
    with open(path, "wb") as f:
        f.truncate(size)
    procs = []
    for i in range(processes):
        out = open(os.path.join(work, f"hold{i}.json"), "w")
        err = open(os.path.join(work, f"hold{i}.err"), "w+")
        p = subprocess.Popen([daxmap, "hold", path, "--holders", str(holders), "--slot", str(i),
                              "--slots", str(processes), "--acked", os.path.join(work, f"acked{i}"),
                              "--timeout", "300", "--deadline", "5000", "--json"],
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
            time.sleep(0.05)
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
    procs = start_holds(daxmap, path, processes, holders, size, work)
    time.sleep(1)  # every writer running
    t0 = time.monotonic()
    retire = None
    if mode == "planned":
        retire = subprocess.Popen([daxmap, "retire", path, "--deadline", "30", "--then", "none", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    else:
        os.truncate(path, 0)
    times = wait_all(procs, t0)
    report = None
    if retire:
        so, se = retire.communicate()
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
        "removalSources": sorted({str(x.get("removalSource")) for x in s}),
    }
    if report is not None:
        result["retireMs"] = report.get("durationMilliseconds")
        result["retireProcessesReleased"] = report.get("processesReleased")
    subprocess.run(["rm", "-rf", work])
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daxmap")
    ap.add_argument("--processes", type=int, default=50)
    ap.add_argument("--holders", type=int, default=4)
    ap.add_argument("--dir", default="/dev/shm")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = [run(a.daxmap, m, a.processes, a.holders, a.dir) for m in ("planned", "unplanned")]
    if a.json:
        print(json.dumps(results))
        return
    for r in results:
        extra = f", retire {r['retireMs']:.0f} ms, {r['retireProcessesReleased']} released" if "retireMs" in r and r["retireMs"] else ""
        print(f"{r['mode']:>9}: {r['processes']} processes x {r['holdersPerProcess']} holders: exit after the request "
              f"p50 {r['exitP50Ms']} ms, max {r['exitMaxMs']} ms; fault signals {r['faultSignals']}, "
              f"writer errors {r['faultsCaught']}; exit statuses {r['exitStatuses']}; "
              f"sources {r['removalSources']}{extra}")


main()
