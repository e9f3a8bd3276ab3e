#!/bin/bash
# scenario: machine=nvdimm series=6.12 order=150
# checks: kmem (system-ram mode) under 4 holders + a plain writer on /dev/dax0.0, three ways: (1) `daxctl reconfigure-device --mode=system-ram --no-online` (policy `offline`, no `-f`): devdax-unbind's checks (hold exits 0, every holder told once, `removalSource` `uevent`/`accessError`, nothing open, the plain process dies 135); while it is system RAM `daxmap list --json` = `daxctl list -D` (`mode` system-ram, `online_memblocks` 0, `total_memblocks` 7 of 128 MiB), `daxmap info --json` reports it (`kind` system-ram, its node, the blocks, `mappable` false, the way back in `reason`), `daxmap hold` exits 1 with the `.systemRAM` message; `--mode=devdax`: reopen in the living process, `verify` 0 lost; (2) `-f` under `auto_online_blocks=online_movable` (the kernel onlines it): the same, every block online and movable; back with `-f` (offlines first); (3) planned: without `-f` daxctl refuses under that policy and the device and its 2 hold processes are untouched; `daxmap retire --then none` (exit 0, 0 fault signals, told by `operator`), then `-f`: no SIGBUS in dmesg; back. In (2) and (3) the memory was the page allocator's: the records are verified and a loss is reported as `known` (seen: a whole holder's log zeroed after daxmap processes ran while it was online; daxctl says the data is lost)
# kmem: a devdax namespace that daxmap holders map is reconfigured to system RAM
# (daxctl reconfigure-device --mode=system-ram: unbind device_dax, hot-add the memory
# blocks, bind kmem, online them). To the holders that is a removal:
#   1. without -f, --no-online (auto-online policy "offline"): every holder told, released
#      or revoked, the process alive; while the device is system RAM, daxmap list shows it
#      as daxctl does (mode, 0 memory blocks online), daxmap info reports it (node, blocks,
#      not mappable, why) and daxmap hold refuses it, saying what to do; back (--mode=devdax): the holder reopens, verify finds every
#      record (the memory was never given to the page allocator).
#   2. with -f (policy "online_movable": the kernel onlines it): the same, list shows every
#      block online and movable; back with -f (offlines first). Records are checked, not
#      required: online memory belongs to the page allocator (daxctl: the data is lost).
#   3. planned: under the auto-online policy daxctl without -f refuses and leaves the
#      device (and its holders) alone; daxmap retire drains every holder (0 fault
#      signals), then -f reconfigures with no SIGBUS; back, records checked as in 2.
. "$HARNESS/scenarios/lib.sh"
load_modules
POLICY=/sys/devices/system/memory/auto_online_blocks
[ -d /sys/bus/dax/drivers/kmem ] || { echo "skip no kmem driver (CONFIG_DEV_DAX_KMEM)" >> "$RESULT_FILE"; finish; exit 0; }
[ -w $POLICY ] || { echo "skip no memory hotplug ($POLICY)" >> "$RESULT_FILE"; finish; exit 0; }
make_devdax namespace0.0
need_daxmap hold
name=$(basename "$DAXDEV")
saved_policy=$(cat $POLICY)
fact autoOnlineBlocks "$saved_policy"
say "memory block size $(( $(printf '%d' 0x$(cat /sys/devices/system/memory/block_size_bytes)) >> 20 )) MiB"

# While the device is system RAM: the listing (both rounds), the refusals (round 1 only:
# each daxmap start costs seconds under TCG).
while_removed() {
    local tag=$1 dev=$2 m=$3 rc online=all
    [ "$m" = kmem ] && online=none
    daxctl list -D -d "$name" > "$WORK/daxctl-$tag.json" 2>&1
    dx "$WORK/list-$tag" list --json
    cp "$WORK/daxctl-$tag.json" "$WORK/list-$tag.json" "$RESULTS/" 2>/dev/null
    # daxmap's device object = daxctl's (mode, target_node, online_memblocks, total_memblocks, movable).
    if python3 - "$WORK/list-$tag.json" "$WORK/daxctl-$tag.json" "$name" "$online" <<'PY'
import json, sys
ours = [d for r in json.load(open(sys.argv[1])) for d in r.get("devices", []) if d.get("chardev") == sys.argv[3]]
theirs = [d for d in json.load(open(sys.argv[2])) if d.get("chardev") == sys.argv[3]]
print("daxmap:", ours, "\ndaxctl:", theirs)
ok = ours and theirs and ours[0] == theirs[0] and ours[0]["mode"] == "system-ram" and ours[0]["total_memblocks"] > 0
ok = ok and ours[0]["online_memblocks"] == (0 if sys.argv[4] == "none" else ours[0]["total_memblocks"])
sys.exit(0 if ok else 1)
PY
    then ok "$tag: daxmap list shows $name as daxctl does: system-ram, $online of its memory blocks online"
    else fail "$tag: daxmap list and daxctl list disagree on $name in system-ram mode (or not $online online): $(head -c 300 "$WORK/list-$tag.json")"; fi
    [ "$m" = kmem ] || return 0
    "$DAXMAP" info "$dev" --json > "$WORK/info-sysram.out" 2>&1; rc=$?
    cp "$WORK/info-sysram.out" "$RESULTS/"
    say "daxmap info $dev --json -> $rc: $(head -c 600 "$WORK/info-sysram.out")"
    [ $rc = 0 ] && jcheck "$tag: daxmap info reports the system-ram device: its node, 0 blocks online, not mappable, the way back" "$WORK/info-sysram.out" \
        "j['kind'] == 'system-ram' and j['numa_node'] is not None and j['online_memblocks'] == 0 and j['total_memblocks'] > 0 and j['mappable'] is False and 'reconfigure-device --mode=devdax $name' in j['reason']" ||
        { [ $rc = 0 ] || fail "$tag: daxmap info on the system-ram device: exit $rc: $(head -c 200 "$WORK/info-sysram.out")"; }
    "$DAXMAP" hold "$dev" --acked "$WORK/acked-refused.log" --holders 1 --timeout 5 > "$WORK/hold-sysram.out" 2>&1; rc=$?
    if [ $rc = 1 ] && grep -q "is in system-ram mode" "$WORK/hold-sysram.out"; then ok "$tag: daxmap hold refuses to map it"
    else fail "$tag: daxmap hold on the system-ram device: exit $rc: $(head -c 200 "$WORK/hold-sysram.out")"; fi
}

# records_after_online TAG DEV: the memory was online as system RAM: what the page
# allocator handed out is overwritten (init_on_alloc zeroes it), so the records are
# checked and the loss, if any, recorded as the kernel's (daxctl says the data is lost).
records_after_online() {
    local tag=$1 dev=$2 rc lost
    dx "$WORK/verify-$tag" verify "$dev" --acked "$WORK/acked-$tag.log" --json; rc=$?
    cp "$WORK/verify-$tag.json" "$RESULTS/verify-$tag.json" 2>/dev/null
    lost=$(json_field "$WORK/verify-$tag.json" recordsLost)
    fact "$tag.recordsAcknowledged" "$(json_field "$WORK/verify-$tag.json" recordsAcknowledged)"
    fact "$tag.recordsLost" "${lost:-unknown: $(tail -n 1 "$WORK/verify-$tag.err" | head -c 120)}"
    case $rc in
        0) ok "$tag: every acknowledged record intact (the page allocator did not reach them while online)" ;;
        1) known "$tag: records overwritten while the memory was online as system RAM (daxctl: the device's data is lost): $(tail -n 1 "$WORK/verify-$tag.err" | head -c 150)" ;;
        *) fail "$tag: daxmap verify exited $rc: $(tail -n 2 "$WORK/verify-$tag.err" | tr '\n' ' ' | head -c 200)" ;;
    esac
}
check_records() {
    local tag=$1 dev=$2 m=$3
    if [ "$m" = kmem ]; then   # never onlined: nothing may be lost
        jcheck "$tag: reopen in the same process reads the records" "$WORK/hold-$tag.json" "j['reopenedRecordsIntact'] == 1"
        check_verify "$tag" "$dev"
    else
        records_after_online "$tag" "$dev"
    fi
}

# 1. Without -f, not onlined: the policy must not auto-online.
echo offline > $POLICY
devdax_removal kmem "$DAXDEV" namespace0.0
# 2. With -f, under an auto-online policy.
echo online_movable > $POLICY
devdax_removal kmem-force "$DAXDEV" namespace0.0
unset -f while_removed check_records

# 3. Planned: daxctl refuses without -f (the policy would online the memory), then retire, then -f.
for i in 0 1; do start_hold "kr$i" 2 "$DAXDEV" --slot $i --slots 2; done
wait_ready kr0 kr1
daxctl reconfigure-device --mode=system-ram "$name" > "$WORK/refused.out" 2>&1; rc=$?
say "daxctl reconfigure-device without -f under online_movable: rc $rc: $(tr '\n' ' ' < "$WORK/refused.out" | head -c 200)"
if [ $rc != 0 ] && grep -q "auto-online" "$WORK/refused.out"; then ok "kernel: without -f daxctl refuses while the kernel would auto-online"
else fail "daxctl reconfigure-device without -f under online_movable: rc $rc (expected a refusal)"; fi
sleep 1
if [ "$(basename "$(readlink "/sys/bus/dax/devices/$name/driver")")" = device_dax ] && kill -0 "${HOLD_PID[kr0]}" && kill -0 "${HOLD_PID[kr1]}" &&
   ! grep -q '^REMOVED' "$WORK/hold-kr0.err" "$WORK/hold-kr1.err"; then
    ok "refused reconfigure: $name still device-dax, both hold processes still writing"
else fail "refused reconfigure disturbed the device or its holders (driver $(readlink "/sys/bus/dax/devices/$name/driver"))"; fi
kmark kmem-retire
say "daxmap retire $DAXDEV --deadline 10 --then none"
timeout 90 "$DAXMAP" retire "$DAXDEV" --deadline 10 --then none --json > "$WORK/retire-kmem.json" 2> "$WORK/retire-kmem.err"; rc=$?
cp "$WORK/retire-kmem.json" "$RESULTS/" 2>/dev/null
say "retire exit $rc: $(head -c 400 "$WORK/retire-kmem.json")"
[ $rc = 0 ] && ok "retire: exit 0" || fail "retire: exit $rc: $(tail -n 1 "$WORK/retire-kmem.err")"
jcheck "retire: both processes released, 0 fault signals" "$WORK/retire-kmem.json" \
    "j['processesReleased'] == 2 and j['stragglers'] == [] and j['faultSignals'] == 0"
for i in 0 1; do
    wait_pid_timeout "${HOLD_PID[kr$i]}" 60; rc=$?
    f=$WORK/hold-kr$i.json; cp "$f" "$RESULTS/" 2>/dev/null
    fact "exit.kr$i" "$rc daxmap hold"
    fact "removalSource.kr$i" "$(json_field "$f" removalSource)"
    [ $rc = 0 ] && ok "kr$i: daxmap hold exited 0 after the retire" || fail "kr$i: daxmap hold exited $rc after the retire"
    jcheck "kr$i: both holders told by the operator, 0 fault signals, nothing open" "$f" \
        "j['removalSource'] == 'operator' and j['holdersPreRemoved'] == 2 and j['faultSignals'] == 0 and j['descriptorsOpen'] == 0"
done
timed "retired: daxctl reconfigure-device -f --mode=system-ram" 30 daxctl reconfigure-device -f --mode=system-ram "$name" > "$WORK/retired.out" 2>&1 &&
    ok "retired: reconfigured to system-ram" || fail "retired: reconfigure -f failed: $(tail -n 2 "$WORK/retired.out" | tr '\n' ' ')"
[ "$(dmesg_since kmem-retire | grep -c 'Sending SIGBUS')" = 0 ] && ok "retired: no SIGBUS sent by the kernel" || fail "retired: the kernel sent SIGBUS after the retire"
timed "retired: back to devdax" 60 daxctl reconfigure-device -f --mode=devdax "$name" > /dev/null || fail "retired: reconfigure -f --mode=devdax failed"
wait_path "$DAXDEV" 10 || abort "retired: $DAXDEV did not come back"
for i in 0 1; do records_after_online "kr$i" "$DAXDEV"; done
echo "$saved_policy" > $POLICY
no_dstate && ok "no task in D state"
finish
