#!/bin/bash
# scenario: machine=nvdimm role=manual order=910
# checks: the kernel's side with plain processes only, no daxmap (not in the default list): use it first on a new kernel
# Not in the default suite: what this kernel does to a PLAIN process (no daxmap), to check
# a new kernel against the facts the scenarios rely on (devdax unbind -> 135, hwpoison, XFS storm).
. "$HARNESS/scenarios/lib.sh"
P="python3 $HARNESS/scenarios/helpers/plainmap.py"
say "start"; load_modules; say "modules loaded"
make_devdax namespace0.0
$P write $DAXDEV > $WORK/w.log 2>&1 & pid=$!
wait_for_line $WORK/w.log READY 20 || say "no READY"; sleep 0.5
kmark unbind1
say "unbind device_dax"; drv_unbind dax0.0 device_dax dax; say "unbound"
wait_pid_timeout $pid 10; rc=$?; say "plain writer exit $rc"; tail -n2 $WORK/w.log
dmesg_since unbind1 | tail -n 5
drv_bind dax0.0 device_dax dax; wait_path $DAXDEV 5; say "rebound: $(ls -l $DAXDEV)"
kmark poison1
$P poison $DAXDEV $((4 << 20)) > $WORK/p.log 2>&1; rc=$?; say "poison exit $rc"; cat $WORK/p.log
dmesg_since poison1 | tail -n 5
# fsdax xfs
make_fsdax namespace0.0
mkfs.xfs -f -m rmapbt=1,reflink=0 $PMEM > $WORK/mkfs.log 2>&1 || say "mkfs fail $(tail -2 $WORK/mkfs.log)"
mkdir -p /tmp/mnt; mount -o dax=always $PMEM /tmp/mnt || say "mount fail"
say "mounted: $(grep /tmp/mnt /proc/mounts)"
$P write /tmp/mnt/f0 $((8<<20)) > $WORK/x.log 2>&1 & pid=$!
wait_for_line $WORK/x.log READY 20 || { say "no READY"; cat $WORK/x.log; }; sleep 0.5
kmark unbind2
say "unbind $PFN"; drv_unbind $PFN nd_pmem nd; say "unbound"
wait_pid_timeout $pid 10; rc=$?; say "plain xfs writer exit $rc"; tail -n2 $WORK/x.log
dmesg_since unbind2 | grep -v 'Sending SIGBUS' | tail -n 15; say "SIGBUS msgs: $(dmesg_since unbind2 | grep -c SIGBUS)"
umount /tmp/mnt; say "umount rc $?"
drv_bind $PFN nd_pmem nd; wait_path $PMEM 5; mount -o dax=always $PMEM /tmp/mnt; say "remount rc $? $(ls -l /tmp/mnt)"
umount /tmp/mnt
finish
