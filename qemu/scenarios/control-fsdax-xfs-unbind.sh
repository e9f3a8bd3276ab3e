#!/bin/bash
# checks: `dd conv=fsync` loops + `MAP_SYNC`/`MAP_SHARED` store loops, the pfn unbind, kill -9, umount, re-bind, remount, acknowledged files checked; on ext4 also a mapping idle across the unbind, unmapped after it (`heldUnmap`: what the kernel does to a mapping nothing unmapped)
# Control for fsdax-xfs-unbind: the same unbind under plain processes (no daxmap).
. "$HARNESS/scenarios/control-lib.sh"
control_fsdax xfs
