#!/bin/bash
# scenario: machine=nvdimm role=reproducer order=120
# checks: reproducer: XFS, a `MAP_SYNC` store loop, the pfn unbind, the mapper ends or is killed, `umount`: REPRODUCED (oops) on an oops naming `dax_disassociate_entry`; INCONCLUSIVE when the unbind never returns (7.2)
# Reproducer (plain processes, no daxmap): XFS (rmapbt, dax=always) with a MAP_SYNC mapping
# being written, the pfn device unbound, then umount. Seen on 6.1 (no MF_MEM_PRE_REMOVE):
# the umount oopses in dax_disassociate_entry (the dax entries of the MAP_SYNC mapping stay
# associated with the dead device). Reproduced = an oops whose RIP or trace names
# dax_disassociate_entry during the umount.
. "$HARNESS/scenarios/control-lib.sh"
UNBIND_WAIT=20
load_modules
step "ndctl create-namespace -f -e namespace0.0 -m fsdax"
make_fsdax namespace0.0
step "mkfs.xfs -f -m rmapbt=1 $PMEM; mount -o dax=always $PMEM /tmp/mnt"
mount_xfs_dax
step "python3 plainmap.py store /tmp/mnt/m 8388608 &   (MAP_SHARED_VALIDATE|MAP_SYNC, a store into every page in a loop)"
mapper map-sync store $MNT/m $((8 << 20)) 1
sleep 1
signature 'dax_disassociate_entry|BUG: |Oops: '
kmark repro
step "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind"
if ! removal xfs sh -c "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind"; then
    inconclusive "the unbind itself never returned, so the umount was not reached (see repro-xfs-unbind-livelock)"
    hard_stop "the unbind never returned"
fi
step "wait for the mapper to end (10 s), kill -9 it otherwise"
workload_outcome xfs
step "umount /tmp/mnt"
kmark repro-umount
try_umount xfs $MNT 30
if o=$(new_oops_since repro-umount); then
    if dmesg_since repro-umount | grep -q dax_disassociate_entry; then
        reproduced oops "umount after the unbind: $o"
    else
        inconclusive "umount after the unbind oopsed elsewhere: $o"
    fi
    hard_stop "reproducer done"
    exit 0
fi
not_reproduced "umount after the unbind: $(grep '^xfs.umount=' "$RESULTS/facts.txt" | tail -n1 | cut -d= -f2-), no oops"
hard_stop "reproducer done"
