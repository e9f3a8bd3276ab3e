# shellcheck shell=bash
# CXL setup for the cxl machine (qemu/lib/vm.sh): one persistent type-3 memdev (mem0)
# -> `cxl create-region` -> an nd region on the CXL nvdimm bus -> a devdax namespace.
# Sourced after lib.sh.

# cxl_wait_memdev TIMEOUT: cxl_pci/cxl_mem probe asynchronously: wait for mem0.
cxl_wait_memdev() {
    local m
    for m in cxl_acpi cxl_pci cxl_mem cxl_pmem dax_cxl; do modprobe -q "$m" 2>/dev/null; done
    wait_path /sys/bus/cxl/devices/mem0 "$1" || return 1
    # The endpoint port (and its decoders) appears once cxl_mem has bound mem0.
    local end=$(( $(uptime_s) + $1 ))
    while [ -z "$(cxl list -M -m mem0 2>/dev/null | grep -o '"memdev"')" ] || ! ls -d /sys/bus/cxl/devices/endpoint* >/dev/null 2>&1; do
        [ "$(uptime_s)" -ge $end ] && return 1
        sleep 0.5
    done
    udevadm settle 2>/dev/null || true
}

# cxl_region_of_json FILE: the region name in `cxl create-region` output ("" if none).
cxl_region_of_json() {
    python3 -c '
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
j = j[0] if isinstance(j, list) and j else j
print(j.get("region", "") if isinstance(j, dict) else "")' "$1"
}

# cxl_make_region: a 1-way pmem region on mem0 under the first pmem-capable root
# decoder. Sets CXL_REGION (regionN), ND_REGION (the nd region it backs).
# `cxl create-region` exits 0 after "created 0 regions" (e.g. a commit refused when the
# guest CPU advertises a hypervisor): its JSON is what tells.
cxl_make_region() {
    local root out
    root=$(cxl list -D -d root 2>/dev/null | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d.get("pmem_capable"):
        print(d["decoder"]); break')
    [ -n "$root" ] || abort "setup: no pmem-capable CXL root decoder: $(cxl list -D -d root 2>&1 | tr '\n' ' ' | head -c 200)"
    out=$(cxl create-region -m -d "$root" -t pmem -w 1 mem0 2> "$WORK/create-region.err")
    printf '%s\n' "$out" > "$WORK/create-region.json"
    CXL_REGION=$(cxl_region_of_json "$WORK/create-region.json")
    [ -n "$CXL_REGION" ] || abort "setup: cxl create-region made no region: $(tr '\n' ' ' < "$WORK/create-region.err" | head -c 300)"
    say "cxl: $CXL_REGION on $root"
    cxl_wait_nd_region 30 || { cxl_fixtures "$RESULTS/fixtures"; lsmod > "$RESULTS/lsmod.txt"; abort "setup: no nd region appeared for $CXL_REGION"; }
}

# cxl_wait_nd_region TIMEOUT: the nd region cxl_pmem made for CXL_REGION. It hangs off
# the nvdimm bridge (root0/nvdimm-bridge0/ndbusN/regionM), not under the CXL region, so
# it is found by its physical address: the same start as the CXL region's. Sets ND_REGION.
cxl_wait_nd_region() {
    local end=$(( $(uptime_s) + $1 )) r want
    want=$(cat "/sys/bus/cxl/devices/$CXL_REGION/resource" 2>/dev/null)
    ND_REGION=""
    while [ "$(uptime_s)" -lt $end ]; do
        for r in /sys/bus/nd/devices/region*; do
            [ -e "$r/resource" ] || continue
            if [ "$(( $(cat "$r/resource" 2>/dev/null || echo -1) ))" = "$(( want ))" ]; then ND_REGION=$(basename "$r"); return 0; fi
        done
        sleep 0.5
    done
    return 1
}

# cxl_make_devdax: a devdax namespace (align 2 MiB) on ND_REGION. Sets DAXDEV, CXL_NS.
cxl_make_devdax() {
    local out
    out=$(ndctl create-namespace -r "$ND_REGION" -m devdax --align=2M 2>&1) ||
        abort "setup: ndctl create-namespace -r $ND_REGION -m devdax failed: $(echo "$out" | tail -n1)"
    echo "$out" > "$WORK/create-ns.json"
    CXL_NS=$(json "$WORK/create-ns.json" "j['dev']")
    DAXDEV=/dev/$(json "$WORK/create-ns.json" "j['daxregion']['devices'][0]['chardev']")
    wait_path "$DAXDEV" 10 || abort "setup: $DAXDEV did not appear"
    say "cxl devdax: $DAXDEV ($CXL_NS on $ND_REGION, $CXL_REGION)"
}

# cxl_fixtures DIR: what the tools and sysfs say about the CXL topology (fixtures for
# the host's discovery tests: Tests/DaxMapTests/Fixtures/kernel-6.12-qemu-cxl).
cxl_fixtures() {
    local d=$1 f
    mkdir -p "$d"
    uname -r > "$d/uname.txt"
    cp "$WORK/create-region.json" "$d/cxl-create-region.json" 2>/dev/null
    cp "$WORK/create-ns.json" "$d/ndctl-create-namespace-devdax.json" 2>/dev/null
    cxl list -vvv > "$d/cxl-list-vvv.json" 2>&1
    cxl list -M -R -D -vv > "$d/cxl-list-MRDvv.json" 2>&1
    cxl list -M > "$d/cxl-list-M.json" 2>&1
    cxl list -R -v > "$d/cxl-list-Rv.json" 2>&1
    cxl list -R -T > "$d/cxl-list-RT.json" 2>&1
    cxl list -D > "$d/cxl-list-D.json" 2>&1
    cxl list -P -E > "$d/cxl-list-PE.json" 2>&1
    ndctl list -B -R -N -D > "$d/ndctl-list-BRND.json" 2>&1
    daxctl list -R -D > "$d/daxctl-list-RD.json" 2>&1
    {
        for f in /sys/bus/cxl/devices/*; do echo "$(basename "$f") -> $(readlink -f "$f")"; done
        for f in /sys/bus/nd/devices/* /sys/bus/dax/devices/*; do echo "$(basename "$f") -> $(readlink -f "$f")"; done
    } > "$d/sysfs-paths.txt" 2>&1
    {
        for f in /sys/bus/cxl/devices/mem0/{serial,numa_node,firmware_version,pmem/size,ram/size,payload_max,label_storage_size} \
                 /sys/bus/cxl/devices/$CXL_REGION/{size,resource,mode,interleave_ways,interleave_granularity,commit,uuid,target0} \
                 /sys/bus/nd/devices/$ND_REGION/{size,resource,align,persistence_domain,nstype} \
                 /sys/bus/dax/devices/dax*/{size,resource,align,target_node}; do
            [ -e "$f" ] && echo "$f: $(cat "$f" 2>&1 | tr '\n' ' ')"
        done
        grep -i cxl /proc/iomem
        for f in /sys/bus/nd/devices/region*; do echo "$f: $(ls "$f" | tr '\n' ' ')"; echo "resource: $(cat "$f/resource" 2>&1)"; done
    } > "$d/sysfs-attrs.txt" 2>&1
}

# cxl_setup: mem0 -> region -> devdax, or abort with why; a kernel on which the CXL window
# does not keep what is stored in it is skipped (6.1 under qemu 7.2: the devdax maps, but
# 64-byte patterns written at 8 places read back as zeros, and reading the mapping's
# smaps warns in try_grab_page, mm/gup.c:224).
cxl_setup() {
    load_modules
    cxl_wait_memdev 60 || abort "setup: no CXL memdev mem0 within 60 s: $(cxl list -M 2>&1 | tr '\n' ' ' | head -c 200)"
    cxl_make_region
    cxl_make_devdax
    local why
    if ! why=$(cxl_window_keeps_stores 2>&1); then
        echo "skip the CXL window does not keep stores on $(uname -r): $why" >> "$RESULT_FILE"
        say "skip: $why"
        finish; exit 0
    fi
}

# cxl_window_keeps_stores: a plain MAP_SHARED mapping of DAXDEV, 64 bytes written at 8
# places 2 MiB-aligned across it and read back (sparse: the window is slow under TCG).
cxl_window_keeps_stores() {
    python3 - "$DAXDEV" "$(cat "/sys/bus/dax/devices/$(basename "$DAXDEV")/size")" <<'PY'
import mmap, os, sys
dev, size = sys.argv[1], int(sys.argv[2])
fd = os.open(dev, os.O_RDWR)
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
step = max(size // 8 // (2 << 20), 1) * (2 << 20)
offsets = list(range(0, size, step))[:8]
pattern = lambda off: (off // 4096 + 0x5a5a0000).to_bytes(8, "little") * 8
for off in offsets:
    m[off:off + 64] = pattern(off)
bad = [off for off in offsets if m[off:off + 64] != pattern(off)]
if bad:
    print(f"{len(bad)} of {len(offsets)} patterns read back different (first at {bad[0]:#x}: {m[bad[0]:bad[0] + 16].hex()})")
    sys.exit(1)
PY
}

# cxl_dax_in_region: the device-dax node whose physical start lies in CXL_REGION ("" if none).
cxl_dax_in_region() {
    local start size d r
    start=$(( $(cat "/sys/bus/cxl/devices/$CXL_REGION/resource" 2>/dev/null || echo -1) ))
    size=$(( $(cat "/sys/bus/cxl/devices/$CXL_REGION/size" 2>/dev/null || echo 0) ))
    for d in /sys/bus/dax/devices/dax*; do
        [ -e "$d/resource" ] || continue
        r=$(( $(cat "$d/resource") ))
        if [ "$r" -ge "$start" ] && [ "$r" -lt $((start + size)) ] && [ -e "/dev/$(basename "$d")" ]; then echo "/dev/$(basename "$d")"; return; fi
    done
}

# record: result lines ("ok NAME", "fail NAME: why") from standard input, into result.txt
# and the log.
record() { local line; while read -r line; do echo "$line" >> "$RESULT_FILE"; say "$line"; done; }

# dx_checks OUT ARGS... -- NAME EXPR [NAME EXPR...]: daxmap ARGS (stdout in OUT.json, saved
# to the share), then jchecks over its JSON; a non-zero exit fails, naming the command.
dx_checks() {
    local out=$1; shift
    local -a cmd=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do cmd+=("$1"); shift; done
    shift
    need_daxmap "${cmd[0]}"
    if dx "$out" "${cmd[@]}"; then
        cp "$out.json" "$RESULTS/$(basename "$out").json" 2>/dev/null
        jchecks "$out.json" "$@"
    else
        fail "daxmap ${cmd[*]} exited $?: $(tail -n2 "$out.err" | tr '\n' ' ' | head -c 200)"
    fi
}

# cxl_check_hold TAG N BACK: check_hold's checks (and, BACK=1, those of a holder process that
# lived across the device's return), batched.
cxl_check_hold() {
    local tag=$1 n=$2 back=$3
    check_hold "$tag" "$n" "['uevent', 'accessError', 'sysfs']"
    [ "$back" = 1 ] && [ -s "$WORK/hold-$tag.json" ] || return
    jchecks "$WORK/hold-$tag.json" \
        "$tag: the device came back to the living process" "j['devicesBack'] == 1" \
        "$tag: old mappings did not come back to life" "j['oldMappingsAlive'] == 0" \
        "$tag: reopen in the same process reads the records" "j['reopenedRecordsIntact'] == 1"
}

# cxl_removal METHOD: 4 holders writing on DAXDEV (and a plain mapper beside them), then
# the device goes by METHOD: namespace (ndctl disable-namespace), region (cxl
# disable-region: the nd region and everything on it go), destroy (cxl destroy-region -f:
# the region itself goes, for good). Every hold must end gracefully; after a namespace or
# region removal the device is brought back while the holder process lives (its old
# mappings must stay dead, a reopen must read the records) and every record is verified.
cxl_removal() {
    local m=$1 tag=cxl-$1 holders=4 back=1
    [ "$m" = destroy ] && back=0
    # shellcheck disable=SC2046
    start_hold "$tag" $holders "$DAXDEV" $([ $back = 1 ] && echo --await-return 60)
    wait_ready "$tag"
    start_plain "$tag" "$DAXDEV"
    sleep 1
    kmark "$tag"
    say "removing $DAXDEV by $m"
    case $m in
        namespace) timed "$tag: ndctl disable-namespace" 30 ndctl disable-namespace "$CXL_NS" ;;
        region)    timed "$tag: cxl disable-region" 30 cxl disable-region "$CXL_REGION" ;;
        destroy)   timed "$tag: cxl destroy-region" 30 cxl destroy-region -f "$CXL_REGION" ;;
    esac || { fail "$tag: removal by $m failed"; fact "removal.$tag" "failed or stuck"; return 1; }
    fact "removal.$tag" returned
    ok "$tag: removal by $m returned"
    check_plain_died "$tag" "$DAXDEV"
    if [ $back = 0 ]; then
        cxl_check_hold "$tag" $holders 0
        [ -e "/sys/bus/cxl/devices/$CXL_REGION" ] && fail "$tag: $CXL_REGION still exists after destroy-region" || ok "$tag: $CXL_REGION destroyed"
        return
    fi
    if wait_for_line "$WORK/hold-$tag.err" '^REMOVED' 30; then ok "$tag: daxmap handled the removal and lives on"
    else fail "$tag: daxmap hold did not report the removal within 30 s"; fi
    case $m in
        namespace) ndctl enable-namespace "$CXL_NS" > /dev/null ;;
        region)    cxl enable-region "$CXL_REGION" > /dev/null ;;
    esac || { fail "$tag: cannot restore $DAXDEV after $m"; return 1; }
    # After enable-region the namespace comes back from the label area, on a new nd region.
    local end=$(( $(uptime_s) + 30 )) dev=""
    while [ "$(uptime_s)" -lt $end ]; do dev=$(cxl_dax_in_region); [ -n "$dev" ] && break; sleep 0.5; done
    [ "$dev" = "$DAXDEV" ] || { fail "$tag: $DAXDEV did not come back after $m (now: '${dev:-none}')"; return 1; }
    ok "$tag: $DAXDEV back after re-enabling"
    cxl_check_hold "$tag" $holders 1
    check_verify "$tag" "$DAXDEV"
}

# cxl_retire: the planned removal of the CXL devdax: a hold process (2 holders) drained by
# `daxmap retire --then disable` with 0 fault signals and no SIGBUS from the kernel;
# `daxctl enable-device`; every record verified.
cxl_retire() {
    local tag=cxl-retire rc name; name=$(basename "$DAXDEV")
    start_hold "$tag" 2 "$DAXDEV"
    wait_ready "$tag"
    sleep 1
    kmark "$tag"
    say "daxmap retire $DAXDEV --deadline 10 --then disable"
    timeout 90 "$DAXMAP" retire "$DAXDEV" --deadline 10 --then disable --json > "$WORK/retire.json" 2> "$WORK/retire.err"; rc=$?
    cp "$WORK/retire.json" "$RESULTS/retire-cxl.json" 2>/dev/null
    fact "retire.$tag" "exit $rc"
    if [ $rc = 0 ]; then ok "$tag: daxmap retire exited 0"
    else fail "$tag: daxmap retire exited $rc: $(head -c 200 "$WORK/retire.json") $(tail -n1 "$WORK/retire.err")"; fi
    jchecks "$WORK/retire.json" \
        "$tag: the hold process released in time, 0 fault signals, $name disabled" \
        "j['processesReleased'] == 1 and j['stragglers'] == [] and j['faultSignals'] == 0 and j['removal'] == 'removed'"
    wait_pid_timeout "${HOLD_PID[$tag]}" 60; rc=$?
    cp "$WORK/hold-$tag.json" "$RESULTS/hold-$tag.json" 2>/dev/null
    fact "exit.$tag" "$rc daxmap hold"
    if [ $rc = 0 ]; then ok "$tag: daxmap hold exited 0 after the retire"
    else fail "$tag: daxmap hold exited $rc after the retire"; kill -9 "${HOLD_PID[$tag]}" 2>/dev/null; fi
    jchecks "$WORK/hold-$tag.json" \
        "$tag: every holder told by the operator" "j['removalSource'] == 'operator' and j['holdersPreRemoved'] == 2" \
        "$tag: 0 fault signals in the hold process" "j['faultSignals'] == 0" \
        "$tag: no descriptor left open" "j['descriptorsOpen'] == 0"
    if [ -e "/sys/bus/dax/devices/$name/driver" ]; then fail "$tag: $name still bound after --then disable"
    else ok "$tag: $name disabled (no driver bound)"; fi
    if [ "$(dmesg_since "$tag" | grep -c 'Sending SIGBUS')" = 0 ]; then ok "$tag: no SIGBUS sent by the kernel"
    else fail "$tag: the kernel sent SIGBUS during the planned removal"; fi
    timed "$tag: daxctl enable-device" 30 daxctl enable-device "$name" > /dev/null
    wait_path "$DAXDEV" 10 || { fail "$tag: $DAXDEV did not come back after enable-device"; return 1; }
    check_verify "$tag" "$DAXDEV"
}
