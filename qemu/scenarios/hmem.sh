#!/bin/bash
# scenario: machine=hmem series=6.12 order=160
# checks: soft-reserved memory: `memmap=512M%0x40000000-1+0xefffffff` re-types RAM 1-1.5 GiB as e820 soft-reserved (`Soft Reserved` in /proc/iomem), `dax_hmem` makes dax0.0 under `/platform/hmem.0` (7.2: `/platform/hmem_platform.0/hmem.0`, and no `Soft Reserved` line in /proc/iomem, noted as `known`; no namespace); on 6.3+ `kmem` takes it at boot (offline: `memhp_default_state=offline`): `daxmap info` reports it as system-ram, not mappable, then `--mode=devdax` (6.1 binds `device_dax` at boot); `daxmap list --json` = `daxctl list -R -D`; `daxmap info`: devdax, size and align (2 MiB) from libdaxctl; then devdax-unbind's checks for a `device_dax` unbind and a `daxctl disable-device`, `verify` 0 lost after each re-enable
# hmem: soft-reserved memory (what firmware marks EFI_MEMORY_SP, e.g. HBM or CXL memory
# the BIOS set up) as a device-dax with no NVDIMM namespace and no CXL region behind it.
# The machine re-types 512 MiB of RAM in e820 as soft-reserved (memmap=512M%1G-1+0xefffffff);
# dax_hmem makes a device-dax of it (kmem binds it first on 6.3+, offline here:
# memhp_default_state=offline: daxmap info reports it as system-ram, then it is
# reconfigured to devdax). Then: daxmap list = daxctl
# list (region /platform/hmem.N, no namespace), daxmap info (size, alignment from
# libdaxctl), holders on it through a device_dax unbind and a daxctl disable-device: every
# holder told, the process alive, every record there after re-enable.
. "$HARNESS/scenarios/lib.sh"
load_modules
# Evidence for the report, whatever comes next.
{ echo "cmdline: $(cat /proc/cmdline)"; dmesg | grep -iE 'soft reserved|hmem|e820: update'; grep -iE -A2 'soft|hmem' /proc/iomem
  ls /sys/bus/platform/devices | grep -i hmem; ls -l /sys/bus/dax/devices/; } > "$RESULTS/hmem-evidence.txt" 2>&1
if grep -q 'Soft Reserved' /proc/iomem; then
    ok "kernel: memmap=...+0xefffffff made a Soft Reserved range: $(grep 'Soft Reserved' /proc/iomem | head -n1 | tr -s ' ')"
elif dmesg | grep -q 'soft reserved'; then
    known "kernel: e820 has the soft-reserved range but /proc/iomem lists no Soft Reserved resource"
else
    abort "kernel: no soft-reserved range (cmdline: $(cat /proc/cmdline))"
fi
daxctl list -R -D -i > "$WORK/daxctl-hmem.json" 2>&1
read -r name region < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    if "/hmem" in r.get("path", ""):
        for d in r.get("devices", []):
            if d.get("size", 0) > 0: print(d["chardev"], r["path"]); sys.exit(0)' "$WORK/daxctl-hmem.json" 2>/dev/null)
[ -n "${name:-}" ] || abort "dax_hmem made no device-dax of the soft-reserved range: daxctl list: $(head -c 300 "$WORK/daxctl-hmem.json")"
DAXDEV=/dev/$name
fact hmemRegion "$region"
mode=$(python3 -c 'import json,sys; print([d for r in json.load(open(sys.argv[1])) for d in r.get("devices",[]) if d["chardev"]==sys.argv[2]][0]["mode"])' "$WORK/daxctl-hmem.json" "$name")
fact hmemInitialMode "$mode ($(basename "$(readlink "/sys/bus/dax/devices/$name/driver")"))"
need_daxmap hold
if [ "$mode" = system-ram ]; then
    # kmem took it at boot (6.3+ binds hmem devices to kmem): refused as such, then devdax.
    "$DAXMAP" info "$DAXDEV" --json > "$WORK/info-sysram.out" 2>&1; rc=$?
    cp "$WORK/info-sysram.out" "$RESULTS/daxmap-info-hmem-system-ram.json"
    [ $rc = 0 ] && jcheck "daxmap info reports $name as system-ram, not mappable, while kmem has it" "$WORK/info-sysram.out" \
        "j['kind'] == 'system-ram' and j['mappable'] is False and 'is in system-ram mode' in j['reason']" ||
        { [ $rc = 0 ] || fail "daxmap info on $name in system-ram mode: exit $rc: $(head -c 200 "$WORK/info-sysram.out")"; }
    timed "daxctl reconfigure-device --mode=devdax" 30 daxctl reconfigure-device --mode=devdax "$name" > "$WORK/reconfigure.out" 2>&1 ||
        abort "setup: daxctl reconfigure-device --mode=devdax $name failed: $(tail -n 2 "$WORK/reconfigure.out" | tr '\n' ' ')"
    daxctl list -R -D > "$WORK/daxctl-hmem.json" 2>&1
fi
wait_path "$DAXDEV" 10 || abort "setup: $DAXDEV did not appear"
cp "$WORK/daxctl-hmem.json" "$RESULTS/daxctl-list-RD-hmem.json"
for f in /sys/bus/dax/devices/$name/*; do [ -f "$f" ] && [ -r "$f" ] && echo "$(basename "$f"): $(tr '\n' ' ' < "$f" 2>/dev/null)"; done > "$RESULTS/sysfs-$name-attrs.txt" 2>/dev/null
# daxmap list: the same regions as daxctl (no NFIT here, so no NVDIMM bus either).
dx "$WORK/list" list --json
cp "$WORK/list.json" "$RESULTS/daxmap-list-hmem.json"
python3 - "$WORK/list.json" "$WORK/daxctl-hmem.json" <<'PY' && ok "daxmap list = daxctl list -R -D: the hmem region and its device, no namespace" || fail "daxmap list differs from daxctl list -R -D: $(head -c 300 "$WORK/list.json")"
import json, sys
ours, theirs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("daxmap:", ours, "\ndaxctl:", theirs)
sys.exit(0 if ours == theirs and all("provider" not in x for x in ours) else 1)
PY
size=$(json "$WORK/daxctl-hmem.json" "[d for r in j for d in r['devices'] if d['chardev'] == '$name'][0]['size']")
align=$(json "$WORK/daxctl-hmem.json" "[d for r in j for d in r['devices'] if d['chardev'] == '$name'][0]['align']")
dx "$WORK/info" info "$DAXDEV" --json
cp "$WORK/info.json" "$RESULTS/daxmap-info-hmem.json"
jcheck "daxmap info: device-dax, size and alignment as libdaxctl says" "$WORK/info.json" \
    "j['kind'] == 'devdax' and j['size'] == $size and j['align'] == $align and j['numa_node'] is not None"
devdax_removal device_dax "$DAXDEV" none
devdax_removal daxctl "$DAXDEV" none
no_dstate && ok "no task in D state"
finish
