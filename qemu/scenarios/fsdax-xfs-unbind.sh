#!/bin/bash
# Scenario 3 (the seed, MF_MEM_PRE_REMOVE): XFS with rmapbt on /dev/pmem0 mounted
# dax=always; several daxmap processes map files with MAP_SYNC and write; pfnN.M is
# unbound from nd_pmem; the storm of BUS_MCEERR_AO becomes one pre-remove notification
# per holder; every process exits 0 with a summary; umount succeeds; no hung task;
# after re-bind and remount every acknowledged record is intact.
. "$HARNESS/scenarios/lib.sh"
load_modules
make_fsdax namespace0.0
mkfs.xfs -f -m rmapbt=1 "$PMEM" > "$WORK/mkfs.log" 2>&1 || abort "setup: mkfs.xfs -m rmapbt=1 failed: $(tail -n1 "$WORK/mkfs.log")"
MNT=/tmp/mnt; mkdir -p $MNT
mount -o dax=always "$PMEM" $MNT || abort "setup: mount -o dax=always failed"
need_daxmap hold
PROCS="p0 p1 p2"; HOLDERS=2
for p in $PROCS; do start_hold "xfs-$p" $HOLDERS "$MNT/$p-a" "$MNT/$p-b" --file-size $((16 << 20)); done
wait_ready $(for p in $PROCS; do echo "xfs-$p"; done)
start_plain xfs "$MNT/plain" $((8 << 20))
sleep 1
kmark xfs-unbind
say "unbind $PFN from nd_pmem"
timed "unbind $PFN" 60 sh -c "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind" && ok "unbind $PFN returned"
check_plain_died xfs "a file on the XFS dax mount"
# One `hold` per process; each holds 2 files x 2 holders = 4 holders.
for p in $PROCS; do
    check_hold "xfs-$p" $((2 * HOLDERS)) '["uevent", "memoryFailure"]' &&
    jcheck "xfs-$p: the AO storm became one notification per holder" "$WORK/hold-xfs-$p.json" \
        "j['holdersNotified'] == j['holders']"
done
ao=$(dmesg_since xfs-unbind | grep -c 'Sending SIGBUS' || true)
say "kernel: $ao 'Sending SIGBUS' (AO) messages after the unbind"
[ "$ao" -gt 0 ] && ok "kernel: the unbind sent a storm of $ao SIGBUS (MF_MEM_PRE_REMOVE)" || say "kernel: no SIGBUS storm seen in dmesg"
dmesg_since xfs-unbind | grep -q 'XFS (pmem.*[Ss]hutting down' && ok "kernel: XFS shut down on the pre-remove"
no_dstate && ok "no task in D state after the unbind"
timed "umount after unbind" 60 umount $MNT && ok "umount succeeds after the unbind" || fail "umount after the unbind failed"
no_dstate
echo "$PFN" > /sys/bus/nd/drivers/nd_pmem/bind || abort "cannot re-bind $PFN"
wait_path "$PMEM" 10 || abort "$PMEM did not come back after re-bind"
mount -o dax=always "$PMEM" $MNT || abort "remount after re-bind failed"
for p in $PROCS; do check_verify "xfs-$p" "$MNT/$p-a" "$MNT/$p-b"; done
timed "final umount" 60 umount $MNT
finish
