#!/bin/bash
# scenario: machine=nvdimm role=reproducer order=110
# checks: reproducer (plain processes, no daxmap; runs as a control, no `oops=panic`): XFS rmapbt `dax=always`, a file written through `MAP_SYNC` by a process that exits, a `dd conv=fsync`, `sync`, nothing mapped; the pfn unbind under the mount. REPRODUCED (hang) when it has not returned after 20 s and its stack or a CPU backtrace shows `dax_lock_mapping_entry`/`mf_dax_kill_procs`/`xfs_dax_failure_fn`; NOT-REPRODUCED when it returns
# Reproducer (plain processes, no daxmap): unbinding the pfn device under a MOUNTED XFS
# (rmapbt, dax=always) that files were written to through MAP_SYNC mappings, with no
# process mapping it any more. Seen on 7.2: after "Device is about to be removed!" the
# unbind never returns (mf_dax_kill_procs spinning in dax_lock_mapping_entry under
# xfs_dax_notify_failure). Reproduced = the unbind has not returned after UNBIND_WAIT s
# and its stack (or a CPU backtrace) shows those frames.
. "$HARNESS/scenarios/control-lib.sh"
UNBIND_WAIT=20
FRAMES='dax_lock_mapping_entry|mf_dax_kill_procs|xfs_dax_failure_fn|xfs_dax_notify_failure|dax_holder_notify_failure'
load_modules
step "ndctl create-namespace -f -e namespace0.0 -m fsdax"
make_fsdax namespace0.0
step "mkfs.xfs -f -m rmapbt=1 $PMEM; mount -o dax=always $PMEM /tmp/mnt"
mount_xfs_dax
step "truncate -s 8M /tmp/mnt/f; python3 plainmap.py sentinel-write /tmp/mnt/f 0 1048576   (MAP_SHARED_VALIDATE|MAP_SYNC, write, msync, exit)"
truncate -s 8M $MNT/f
$PLAIN sentinel-write $MNT/f 0 $((1 << 20)) > "$WORK/w.log" 2>&1 || abort "setup: the MAP_SYNC write failed: $(tail -n1 "$WORK/w.log")"
step "dd if=/dev/urandom of=/tmp/mnt/g bs=64k count=16 conv=fsync; sync"
dd if=/dev/urandom of=$MNT/g bs=64k count=16 conv=fsync status=none; sync
fact mappersLeft "$(grep -l " $MNT/" /proc/[0-9]*/maps 2>/dev/null | wc -l)"
signature "$FRAMES|blocked for more than"
kmark repro
step "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind   (XFS still mounted, nothing mapping it)"
if removal xfs sh -c "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind"; then
    not_reproduced "the unbind returned in $(grep '^xfs.removalSeconds=' "$RESULTS/facts.txt" | cut -d= -f2) s (pre-remove: $(dmesg_since repro | grep -q 'about to be removed' && echo yes || echo no))"
    hard_stop "reproducer done"
    exit 0
fi
if grep -qE "$FRAMES" "$RESULTS/facts.txt" || dmesg | grep -qE "$FRAMES"; then
    reproduced hang "the unbind has not returned after ${UNBIND_WAIT}s, with nothing mapping the file system: it spins in $(grep -ohE "$FRAMES" "$RESULTS/facts.txt" <(dmesg) | sort -u | paste -sd, -)"
else
    inconclusive "the unbind has not returned after ${UNBIND_WAIT}s, but its stack shows none of the livelock's frames: $(grep '^xfs.removalTask=' "$RESULTS/facts.txt" | tail -n1 | head -c 300)"
fi
fact dstate "$(dstate_list)"
hard_stop "the unbind never returned"
