#!/bin/bash
# scenario: machine=nvdimm control=yes order=40
# checks: as above on ext4 `-o dax` (`removalSource` must be `uevent`: ext4 gets no signal at unbind); the files are verified from a copy of the re-bound device (e2fsck replays the journal, debugfs extracts them to their original paths on a tmpfs stacked over the stale mount); the umount after the unbind runs last: it oopses this kernel in `dax_disassociate_entry`, reported as a known kernel defect (if it does not oops, that is noted instead). A raced known kernel defect, named when it hits (`hazard`): **7.2** frees the device's struct pages at this unbind while user page tables still map them (ext4 has no dax holder, so nothing unmaps them first); the next munmap or exit of such a mapping oopses in the zap (`__zap_vma_range`, `vm_normal_folio_pmd`), and under `oops=panic` the VM panics. daxmap's holders revoke right after the unbind, so whether their revoke comes before or after the teardown is a race (CI 2026-12-01: oops in a `daxmap-holder` thread; a re-run: pass). The control reproduces it without daxmap: a plain mapping idle across the unbind, unmapped after it (`heldUnmap`), oopses 7.2 in `vm_normal_folio_pmd`. `retire` before the unbind avoids it
# Scenario 4: as fsdax-xfs-unbind on ext4 (mount -o dax). ext4 has no notify_failure:
# the kernel sends no signal at the unbind, so daxmap must learn of it from uevents.
# Records are verified from a copy of the re-bound device (e2fsck replays the journal,
# debugfs extracts the files) because this kernel oopses on the umount after the unbind
# (dax_disassociate_entry): that umount is the last step, a known kernel defect.
. "$HARNESS/scenarios/control-lib.sh"     # lib.sh + bounded waits, removal, hard_stop
load_modules
make_fsdax namespace0.0
FS_MB=256
mkfs.ext4 -F -q -b 4096 "$PMEM" ${FS_MB}M > "$WORK/mkfs.log" 2>&1 || abort "setup: mkfs.ext4 failed: $(tail -n1 "$WORK/mkfs.log")"
MNT=/tmp/mnt; mkdir -p $MNT
mount -o dax "$PMEM" $MNT || abort "setup: mount -o dax (ext4) failed"
grep -q "$MNT ext4 .*dax" /proc/mounts || abort "setup: ext4 not mounted with dax: $(grep $MNT /proc/mounts)"
need_daxmap hold
PROCS="p0 p1"; HOLDERS=2
for p in $PROCS; do start_hold "ext4-$p" $HOLDERS "$MNT/$p" --file-size $((16 << 20)); done
wait_ready $(for p in $PROCS; do echo "ext4-$p"; done)
start_plain ext4 "$MNT/plain" $((8 << 20))
sleep 1
# 7.2 frees the device's struct pages at this unbind while the holders' page tables still
# map its pages (ext4 has no dax holder: nothing unmaps them first), so the zap of the
# holders' revoke (or of any exit) reads a struct page that is gone: an oops, then a
# panic. The control reproduces it with a plain mapping idle across the unbind
# (heldUnmap); `daxmap retire` before the unbind is the way around it.
hazard "RIP: [0-9a-f]+:($EXT4_UNBIND_ZAP_FUNCS)\\+" "ext4's fsdax unbind frees the device's struct pages while user page tables still map them; the next munmap or exit of such a mapping oopses in the zap"
kmark ext4-unbind
say "unbind $PFN from nd_pmem"
fact run daxmap
if removal ext4 sh -c "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind"; then
    ok "unbind $PFN returned"
else
    for p in $PROCS; do WL_PIDS[ext4-$p]=${HOLD_PID[ext4-$p]}; WL_KIND[ext4-$p]="daxmap hold"; done
    WL_PIDS[plain]=${HOLD_PID[plain-ext4]}; WL_KIND[plain]="plain mapper beside daxmap"
    workload_outcome ext4
    try_umount ext4 $MNT 15
    fail "unbind $PFN did not return within ${UNBIND_WAIT}s"
    hard_stop "the unbind never returned"
fi
check_plain_died ext4 "a file on the ext4 dax mount"
for p in $PROCS; do check_hold "ext4-$p" $HOLDERS '["uevent", "accessError"]'; done
sig=$(dmesg_since ext4-unbind | grep -c 'Sending SIGBUS' || true)
say "kernel: $sig 'Sending SIGBUS' messages after the unbind (ext4: none expected at the unbind)"
no_dstate && ok "no task in D state after the unbind"
# Re-bind (the stale mount stays: unmounting it is what oopses) and read the files back
# from a copy of the device.
echo "$PFN" > /sys/bus/nd/drivers/nd_pmem/bind || abort "cannot re-bind $PFN"
fact ext4.rebind ok
wait_path "$PMEM" 10 || abort "$PMEM did not come back after re-bind"
dd if="$PMEM" of=/tmp/ext4.img bs=1M count=$FS_MB status=none || abort "cannot copy $PMEM after re-bind"
e2fsck -fy /tmp/ext4.img > "$WORK/fsck.log" 2>&1; rc=$?
[ $rc -le 1 ] && ok "e2fsck of the re-bound device: clean (exit $rc)" || fail "e2fsck of the re-bound device exited $rc: $(tail -n 2 "$WORK/fsck.log" | tr '\n' ' ')"
# The acknowledged-record logs name the original paths: stack a tmpfs over the stale
# mount point and put the extracted files back at those paths.
mount -t tmpfs tmpfs $MNT || abort "cannot stack a tmpfs over $MNT"
for p in $PROCS; do
    debugfs -R "dump /$p $MNT/$p" /tmp/ext4.img > /dev/null 2>&1 || fail "debugfs cannot extract /$p"
    check_verify "ext4-$p" "$MNT/$p"
done
umount $MNT
# Last: the umount that oopses this kernel.
expect_oops 'dax_disassociate_entry' 'umount after unbind oopses in dax_disassociate_entry'
finish
sync
fact ext4.umount attempting
timeout 60 umount $MNT; rc=$?
[ $rc = 0 ] && fact ext4.umount ok || fact ext4.umount "rc $rc"
say "umount after the unbind returned $rc without an oops"
[ $rc = 0 ] && echo "known umount after unbind did not oops this kernel (dax_disassociate_entry defect absent)" >> "$RESULTS/result.txt"
