#!/bin/bash
# scenario: machine=nvdimm order=10
# checks: `daxmap list --json` = `daxctl list -R -D` (region, dax0.0 size, align 2 MiB, mode, target_node); `daxmap info` = devdax; `daxmap map-check`: whole device written, persisted, verified, faulted at 2 MiB (minorFaults ~ size/2 MiB or pmdMapped)
# Scenario 1: `daxmap list --json` agrees with `daxctl list -R -D` on the region and
# dax0.0 (size, align 2 MiB); `daxmap info` sees a devdax; `daxmap map-check` maps
# the whole device, writes, persists, verifies, and the mapping is faulted at 2 MiB.
. "$HARNESS/scenarios/lib.sh"
load_modules
make_devdax namespace0.0
daxctl list -R -D > "$WORK/daxctl.json" || abort "setup: daxctl list failed"
cp "$WORK/daxctl.json" "$RESULTS/daxctl-list.json"
need_daxmap list
if dx "$WORK/list" list --json; then
    cp "$WORK/list.json" "$RESULTS/daxmap-list.json"
    python3 - "$WORK/daxctl.json" "$WORK/list.json" > "$WORK/cmp.txt" 2>&1 <<'PY'
import json, sys
ref, got = (json.load(open(p)) for p in sys.argv[1:3])
ref = ref if isinstance(ref, list) else [ref]
errors = []
for r in ref:
    g = [x for x in got if x.get("id") == r["id"]]
    if not g:
        errors.append(f"region {r['id']} missing"); continue
    g = g[0]
    for k in ("size", "align"):
        if g.get(k) != r.get(k): errors.append(f"region {r['id']} {k}: {g.get(k)} != daxctl {r.get(k)}")
    for d in r.get("devices", []):
        gd = [x for x in g.get("devices", []) if x.get("chardev") == d["chardev"]]
        if not gd:
            errors.append(f"device {d['chardev']} missing"); continue
        for k in ("size", "align", "mode", "target_node"):
            if gd[0].get(k) != d.get(k): errors.append(f"{d['chardev']} {k}: {gd[0].get(k)} != daxctl {d.get(k)}")
        if d.get("align") != 2097152: errors.append(f"daxctl says align {d.get('align')}, not 2 MiB")
print("; ".join(errors) or "same")
sys.exit(1 if errors else 0)
PY
    if [ $? = 0 ]; then ok "daxmap list --json matches daxctl list -R -D (region, dax0.0 size, align 2 MiB, mode)"
    else fail "daxmap list --json differs from daxctl: $(head -c 300 "$WORK/cmp.txt")"; fi
else
    fail "daxmap list --json exited $?: $(tail -n1 "$WORK/list.err")"
fi
size=$(cat /sys/bus/dax/devices/dax0.0/size)
need_daxmap info
if dx "$WORK/info" info "$DAXDEV" --json; then
    jcheck "daxmap info: devdax, size $size, align 2 MiB, cacheline granularity" "$WORK/info.json" \
        "j['kind'] == 'devdax' and j['size'] == $size and j['align'] == 2097152 and j['granularity'] in ('cacheline', 'byte')"
else
    fail "daxmap info $DAXDEV exited $?: $(tail -n1 "$WORK/info.err")"
fi
need_daxmap map-check
if dx "$WORK/mc" map-check "$DAXDEV" --json; then
    cp "$WORK/mc.json" "$RESULTS/map-check.json"
    jcheck "map-check: whole device ($size bytes) written, persisted, verified" "$WORK/mc.json" \
        "j['verified'] is True and j['size'] == $size and j['align'] == 2097152"
    # 2 MiB faults: ~size/2MiB minor faults (4 KiB faulting would be 512x more), or PMD-mapped.
    jcheck "map-check: mapping faulted at 2 MiB (minor faults ~ $((size >> 21)) or FilePmdMapped)" "$WORK/mc.json" \
        "(j.get('pmdMapped') or 0) >= $size // 2 or j['minorFaults'] <= 2 * ($size >> 21) + 2048"
else
    fail "daxmap map-check $DAXDEV exited $?: $(tail -n2 "$WORK/mc.err" | tr '\n' ' ')"
fi
finish
