#!/bin/bash
# scenario: machine=nvdimm control=yes order=30
# checks: the seed: XFS `-m rmapbt=1`, `dax=always`, 3 `hold` processes x 2 MAP_SYNC files x 2 holders; unbind `pfn0.0` from nd_pmem; every process exits 0 with every holder notified once (`removalSource` `uevent` or `memoryFailure`; also `accessError` on a kernel that logs no "Device is about to be removed!", i.e. without `MF_MEM_PRE_REMOVE`); the AO storm and the XFS shutdown seen in dmesg; no D-state; umount succeeds; re-bind, remount, verify. Known kernel defects, named (KNOWN): without `MF_MEM_PRE_REMOVE` (6.1) the umount oopses in `dax_disassociate_entry`, announced before it (re-bind + verify are then not reached); on 7.2 the unbind never returns (`mf_dax_kill_procs` spinning in `dax_lock_mapping_entry`): after 25 s the run records the holders' state, kill -9, umount, and stops the VM. A raced one (`hazard`): on 6.12 too the umount can oops in `dax_disassociate_entry` (seen once in the soak, after every holder had exited), named KNOWN when it hits
# Scenario 3 (the seed, MF_MEM_PRE_REMOVE): XFS with rmapbt on /dev/pmem0 mounted
# dax=always; several daxmap processes map files with MAP_SYNC and write; pfnN.M is
# unbound from nd_pmem; the storm of BUS_MCEERR_AO becomes one pre-remove notification
# per holder; every process exits 0 with a summary; umount succeeds; no hung task;
# after re-bind and remount every acknowledged record is intact.
# On a kernel whose unbind livelocks (7.2: mf_dax_kill_procs spins in dax_lock_mapping_entry
# after "Device is about to be removed!") the run records what the holders' processes
# do, names the kernel's defect and stops the VM; on one without MF_MEM_PRE_REMOVE (6.1:
# no storm, the umount oopses in dax_disassociate_entry) the oops is announced as known.
. "$HARNESS/scenarios/control-lib.sh"     # lib.sh + bounded waits, removal, hard_stop
load_modules
make_fsdax namespace0.0
mount_xfs_dax
need_daxmap hold
PROCS="p0 p1 p2"; HOLDERS=2
for p in $PROCS; do start_hold "xfs-$p" $HOLDERS "$MNT/$p-a" "$MNT/$p-b" --file-size $((16 << 20)); done
wait_ready $(for p in $PROCS; do echo "xfs-$p"; done)
start_plain xfs "$MNT/plain" $((8 << 20))
sleep 1
kmark xfs-unbind
say "unbind $PFN from nd_pmem"
fact run daxmap
if removal xfs sh -c "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind"; then
    ok "unbind $PFN returned"
else
    # What the kernel left daxmap's processes in, then kill -9 and wait, then umount.
    for p in $PROCS; do WL_PIDS[xfs-$p]=${HOLD_PID[xfs-$p]}; WL_KIND[xfs-$p]="daxmap hold"; done
    WL_PIDS[plain]=${HOLD_PID[plain-xfs]}; WL_KIND[plain]="plain mapper beside daxmap"
    workload_outcome xfs
    try_umount xfs $MNT 15
    if dmesg_since xfs-unbind | grep -q 'about to be removed'; then
        echo "defect dax_lock_mapping_entry|mf_dax_kill_procs|xfs_dax_notify_failure|xfs_dax_failure_fn|dax_holder_notify_failure|the fsdax unbind never returns: after 'Device is about to be removed!' mf_dax_kill_procs spins in dax_lock_mapping_entry (kernel livelock); the holders' threads block behind the frozen filesystem" >> "$RESULT_FILE"
    else
        fail "unbind $PFN did not return within ${UNBIND_WAIT}s (no pre-remove in dmesg)"
    fi
    hard_stop "the unbind never returned"
fi
check_plain_died xfs "a file on the XFS dax mount"
# Without MF_MEM_PRE_REMOVE (6.1) no storm comes: a writer's access fault (BUS_ADRERR) or
# the uevent tells daxmap, whichever is first.
SOURCES='["uevent", "memoryFailure"]'
if ! dmesg_since xfs-unbind | grep -q 'about to be removed'; then
    fact xfs.preRemove no
    say "kernel: no 'Device is about to be removed!' (no MF_MEM_PRE_REMOVE): accessError accepted as the source"
    SOURCES='["uevent", "memoryFailure", "accessError"]'
else
    fact xfs.preRemove yes
fi
# One `hold` per process; each holds 2 files x 2 holders = 4 holders.
for p in $PROCS; do
    check_hold "xfs-$p" $((2 * HOLDERS)) "$SOURCES" &&
    jcheck "xfs-$p: the AO storm became one notification per holder" "$WORK/hold-xfs-$p.json" \
        "j['holdersNotified'] == j['holders']"
done
ao=$(dmesg_since xfs-unbind | grep -c 'Sending SIGBUS' || true)
say "kernel: $ao 'Sending SIGBUS' (AO) messages after the unbind"
[ "$ao" -gt 0 ] && ok "kernel: the unbind sent a storm of $ao SIGBUS (MF_MEM_PRE_REMOVE)" || say "kernel: no SIGBUS storm seen in dmesg"
dmesg_since xfs-unbind | grep -q 'XFS (pmem.*[Ss]hutting down' && ok "kernel: XFS shut down on the pre-remove"
fact xfs.sigbusMessages "$ao"
no_dstate && ok "no task in D state after the unbind"
if ! dmesg_since xfs-unbind | grep -q 'about to be removed'; then
    # 6.1: the dax entries of MAP_SYNC mappings stay associated with the dead device;
    # unmounting oopses in dax_disassociate_entry (the seed's crash). Last step, named.
    expect_oops 'dax_disassociate_entry' "umount after the unbind oopses in dax_disassociate_entry (no MF_MEM_PRE_REMOVE in this kernel); re-bind + verify not reached"
    finish
fi
# Raced, on a kernel with MF_MEM_PRE_REMOVE too (6.12, seen in the soak under a loaded
# host, after every holder had exited): a dax entry the pre-remove pass left in a file's
# mapping outlives the device's struct pages, and the umount's eviction oopses on it.
hazard "RIP: [0-9a-f]+:dax_disassociate_entry\\+" "umount after the fsdax unbind evicts a dax entry whose struct page the unbind freed (oops in dax_disassociate_entry)"
try_umount xfs $MNT 60
if [ "$(grep '^xfs.umount=' "$RESULTS/facts.txt" | tail -n1)" = "xfs.umount=ok" ]; then ok "umount succeeds after the unbind"; else fail "umount after the unbind: $(grep '^xfs.umount=' "$RESULTS/facts.txt" | tail -n1)"; fi
no_dstate
echo "$PFN" > /sys/bus/nd/drivers/nd_pmem/bind || abort "cannot re-bind $PFN"
wait_path "$PMEM" 10 || abort "$PMEM did not come back after re-bind"
fact xfs.rebind ok
mount -o dax=always "$PMEM" $MNT || abort "remount after re-bind failed"
fact xfs.remount ok
for p in $PROCS; do check_verify "xfs-$p" "$MNT/$p-a" "$MNT/$p-b"; done
timed "final umount" 60 umount $MNT
finish
