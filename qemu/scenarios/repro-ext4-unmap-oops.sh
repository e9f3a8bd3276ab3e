#!/bin/bash
# scenario: machine=nvdimm role=reproducer order=140
# checks: reproducer: ext4 `-o dax`, a mapping touched then idle across the pfn unbind, then its munmap: REPRODUCED (oops) on an oops in a zap function (`vm_normal_folio_pmd`, `__zap_vma_range`)
# Reproducer (plain processes, no daxmap): ext4 (dax) on pmem; a process maps a file,
# touches every page, then stays idle while the pfn device is unbound (ext4 has no dax
# holder, so nothing unmaps it); afterwards it munmaps. Seen on 7.2: the munmap oopses in
# the zap (vm_normal_folio_pmd, __zap_vma_range) reading a struct page of the removed
# device. Reproduced = an oops in a zap function at that munmap.
. "$HARNESS/scenarios/control-lib.sh"
UNBIND_WAIT=20
ZAP=$EXT4_UNBIND_ZAP_FUNCS
load_modules
step "ndctl create-namespace -f -e namespace0.0 -m fsdax"
make_fsdax namespace0.0
step "mkfs.ext4 -F -q -b 4096 $PMEM 256M; mount -o dax $PMEM /tmp/mnt"
mkfs.ext4 -F -q -b 4096 "$PMEM" 256M > "$WORK/mkfs.log" 2>&1 || abort "setup: mkfs.ext4 failed"
MNT=/tmp/mnt; mkdir -p $MNT; mount -o dax "$PMEM" $MNT || abort "setup: mount -o dax failed"
step "python3 plainmap.py hold /tmp/mnt/held 8388608 &   (MAP_SHARED_VALIDATE|MAP_SYNC, one store per page, then idle until SIGUSR1)"
$PLAIN hold $MNT/held $((8 << 20)) > "$WORK/held.log" 2>&1 & held=$!
wait_for_line "$WORK/held.log" '^READY' 30 || abort "setup: the mapping did not start: $(tail -n1 "$WORK/held.log")"
signature "$ZAP|BUG: "
kmark repro
step "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind"
if ! removal ext4 sh -c "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind"; then
    inconclusive "the unbind never returned"
    hard_stop "the unbind never returned"
fi
step "kill -USR1 the mapper: it munmaps the mapping that was idle across the unbind"
kmark repro-munmap
held_unmap ext4 "$held"
if o=$(new_oops_since repro-munmap); then
    if dmesg_since repro-munmap | grep -qE "$ZAP"; then reproduced oops "munmap after the unbind: $o"
    else inconclusive "munmap after the unbind oopsed elsewhere: $o"; fi
else
    not_reproduced "munmap after the unbind: $(grep '^ext4.heldUnmap=' "$RESULTS/facts.txt" | tail -n1 | cut -d= -f2-)"
fi
hard_stop "reproducer done"
