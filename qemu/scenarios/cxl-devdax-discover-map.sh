#!/bin/bash
# scenario: machine=cxl series=6.12,7.2 order=90
# checks: mem0 -> `cxl create-region` (its JSON checked: it exits 0 after "created 0 regions") -> the nd region at the same address -> devdax; `daxmap list --json`: the memdev and region as `cxl list -M` / `-R -T` print them (every key they print, same values), the region's `nd_region` and `chardevs`, the dax device's `cxl_region` and `memdevs`; `daxmap info`: devdax, 2 MiB, `cxl_region`, `memdevs`; `map-check` (a cache line per 4 KiB page: the window is slow under TCG) written, persisted, verified; the tools' and sysfs' output saved in `share/fixtures/` (the host tests' `Fixtures/kernel-6.12-qemu-cxl`)
# CXL: a persistent type-3 memdev -> cxl create-region -> devdax. `daxmap list --json`
# shows the memdev, the region (as `cxl list` says: size, resource, decode_state, serial)
# tied to its nd region and dax device, and the dax device names its region and memdevs;
# `daxmap info` says devdax and names them too; `daxmap map-check` maps the whole device,
# writes a cache line per page (the window is slow under TCG: touch it sparsely),
# persists, verifies. The tools' and sysfs' view is saved as fixtures.
. "$HARNESS/scenarios/lib.sh"
. "$HARNESS/scenarios/cxl-lib.sh"
cxl_setup
ok "kernel: $CXL_REGION (mem0) -> nd $ND_REGION -> $DAXDEV"
cxl_fixtures "$RESULTS/fixtures"
need_daxmap list
dax=$(basename "$DAXDEV")
if dx "$WORK/list" list --json; then
    cp "$WORK/list.json" "$RESULTS/daxmap-list.json"
    python3 - "$WORK/list.json" "$RESULTS/fixtures/cxl-list-M.json" "$RESULTS/fixtures/cxl-list-RT.json" \
        "$CXL_REGION" "$ND_REGION" "$dax" <<'PY' 2>&1 | record
import json, sys
region, nd, dax = sys.argv[4:7]
name = f"daxmap list --json: memdev and region as cxl list -M / -R -T, tied to {nd} and {dax}"
errors = []
try:
    got, memdevs, regions = (json.load(open(p)) for p in sys.argv[1:4])
    cxl = [x["cxl"] for x in got if "cxl" in x]
    cxl = cxl[0] if len(cxl) == 1 else {}
    if not cxl: errors.append("no single cxl object")
    for ref, key, ident in ((memdevs, "memdevs", "memdev"), (regions, "regions", "region")):
        ours = {x[ident]: x for x in cxl.get(key, [])}
        for r in ref:
            o = ours.get(r[ident], {})
            errors += [f"{r[ident]} {k}: {o.get(k)} != cxl list {v}" for k, v in r.items() if o.get(k) != v]
    r = ([x for x in cxl.get("regions", []) if x["region"] == region] or [{}])[0]
    if r.get("nd_region") != nd or dax not in r.get("chardevs", []) or r.get("type") != "pmem":
        errors.append(f"{region} is not a pmem region naming nd {nd} and {dax}: {r}")
    devs = [d for x in got if "devices" in x for d in x["devices"] if d.get("chardev") == dax] or [{}]
    if devs[0].get("cxl_region") != region or devs[0].get("memdevs") != ["mem0"]:
        errors.append(f"{dax} does not name {region} and mem0: {devs[0]}")
except Exception as e:
    errors.append(repr(e))
print(f"fail {name}: " + "; ".join(errors)[:400] if errors else f"ok {name}")
PY
else
    fail "daxmap list --json exited $?: $(tail -n1 "$WORK/list.err")"
fi
size=$(cat "/sys/bus/dax/devices/$dax/size")
# How fast the window is under this accelerator: 8 MiB stored and read back through a
# plain mapping (no msync: device-dax refuses it), for the README's figures (facts, not checks).
python3 - "$DAXDEV" > "$WORK/speed.txt" 2>&1 <<'PY'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
n = 8 << 20
m = mmap.mmap(fd, n, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
block = bytes(range(256)) * 4096
t = time.monotonic(); m[0:n] = block * (n // len(block)); w = time.monotonic() - t
t = time.monotonic(); data = m[0:n]; r = time.monotonic() - t
print(f"write {n / w / 2**20:.1f} read {n / r / 2**20:.1f}")
PY
fact cxl.windowMiBps "$(cat "$WORK/speed.txt")"
dx_checks "$WORK/info" info "$DAXDEV" --json -- \
    "daxmap info: devdax, size $size, align 2 MiB, on $CXL_REGION (mem0)" \
    "j['kind'] == 'devdax' and j['size'] == $size and j['align'] == 2097152 and j.get('cxl_region') == '$CXL_REGION' and j.get('memdevs') == ['mem0']"
dx_checks "$WORK/map-check" map-check "$DAXDEV" --json -- \
    "map-check: whole device ($size bytes) written, persisted, verified" \
    "j['verified'] is True and j['size'] == $size and j['align'] == 2097152"
finish
