#!/bin/bash
# scenario: machine=nvdimm order=80
# checks: planned removal (`daxmap retire`), one VM: 3 `hold` processes on /dev/dax0.0 (a slot each), `holders` lists them, `retire --then disable` exits 0 (all released, 0 fault signals, the device disabled, no SIGBUS in dmesg), `daxctl enable-device`, verify; then XFS and ext4 mounts with 2 `hold` processes each: `retire MOUNT --then none` exits 0, every hold exits 0 told by `operator` with 0 fault signals, `--then unbind` under the mount is refused (exit 3), umount succeeds, the pfn unbind returns with no SIGBUS, re-bind, remount, verify
# Planned removal (daxmap retire) on a real kernel, three ways in one VM:
#   device-dax: 3 hold processes on /dev/daxX.Y (a slot each), retire --then disable;
#   fsdax XFS and fsdax ext4: 2 hold processes on files of the mount and a plain process
#   with a file open; retire --then unmount-unbind drains the holds but names the plain
#   process and removes nothing; --then unbind under the mount is refused; once the plain
#   process is gone, retire --then unmount-unbind drains, unmounts, unbinds; re-bind, verify.
# Every hold process exits 0, told by the operator (removalSource "operator"), with 0
# fault signals; after re-enable every acknowledged record reads back intact. Retire
# first is the way around the unplanned removals' kernel defects (7.2: the XFS unbind
# livelock, the ext4 zap oops; 6.1: the umount oops): nothing is mapped when they come.
. "$HARNESS/scenarios/lib.sh"
load_modules
need_daxmap hold

# retire_holds TAG N: hold TAG's JSON says it was retired gracefully (N holders).
retire_holds() {
    local tag=$1 n=$2 rc f=$WORK/hold-$1.json
    wait_pid_timeout "${HOLD_PID[$tag]}" 60; rc=$?
    cp "$f" "$RESULTS/hold-$tag.json" 2>/dev/null
    fact "exit.$tag" "$rc daxmap hold"
    fact "removalSource.$tag" "$(json_field "$f" removalSource)"
    [ $rc = 0 ] && ok "$tag: daxmap hold exited 0 after the retire" || { fail "$tag: daxmap hold exited $rc after the retire: $(grep -v '^READY' "$WORK/hold-$tag.err" | tail -n 2 | tr '\n' ' ' | head -c 200)"; return 1; }
    jchecks "$f" \
        "$tag: every holder told by the operator" "j['removalSource'] == 'operator' and j['holdersPreRemoved'] == $n" \
        "$tag: 0 fault signals" "j['faultSignals'] == 0" \
        "$tag: no descriptor left open" "j['descriptorsOpen'] == 0"
}

# retire_json TAG PATH WANT_EXIT ARGS...: daxmap retire, its JSON in $WORK/retire-TAG.json.
retire_run() {
    local tag=$1 path=$2 want=$3 rc; shift 3
    say "daxmap retire $path $*"
    timeout 90 "$DAXMAP" retire "$path" "$@" --json > "$WORK/retire-$tag.json" 2> "$WORK/retire-$tag.err"; rc=$?
    cp "$WORK/retire-$tag.json" "$RESULTS/" 2>/dev/null
    say "retire $tag exit $rc: $(head -c 600 "$WORK/retire-$tag.json")"
    fact "retire.$tag" "exit $rc"
    [ $rc = "$want" ] && ok "$tag: daxmap retire exited $rc" || fail "$tag: daxmap retire exited $rc (want $want): $(head -c 200 "$WORK/retire-$tag.json") $(tail -n1 "$WORK/retire-$tag.err")"
}

# --- device-dax: retire --then disable, daxctl enable-device, verify ---------------
make_devdax namespace0.0
name=$(basename "$DAXDEV")
for i in 0 1 2; do start_hold "dd$i" 2 "$DAXDEV" --slot $i --slots 3; done
wait_ready dd0 dd1 dd2
sleep 1
"$DAXMAP" holders "$DAXDEV" --json > "$WORK/holders-devdax.json" 2>&1
jcheck "devdax: holders lists the 3 daxmap processes" "$WORK/holders-devdax.json" \
    "sum(1 for p in j['processes'] if p['daxmap'] and p['holders'] == 2) == 3"
kmark retire-devdax
retire_run devdax "$DAXDEV" 0 --deadline 10 --then disable
jcheck "devdax: every process released in time" "$WORK/retire-devdax.json" \
    "j['processesReleased'] == 3 and j['stragglers'] == [] and j['faultSignals'] == 0 and j['removal'] == 'removed'"
for i in 0 1 2; do retire_holds "dd$i" 2; done
# Disabled = no driver bound (the node may stay; opening it then fails).
if [ -e "/sys/bus/dax/devices/$name/driver" ]; then fail "devdax: $name still bound to $(basename "$(readlink "/sys/bus/dax/devices/$name/driver")") after --then disable"
else ok "devdax: $name disabled (no driver bound)"; fi
[ "$(dmesg_since retire-devdax | grep -c 'Sending SIGBUS')" = 0 ] && ok "devdax: no SIGBUS sent by the kernel"
timed "devdax: daxctl enable-device" 30 daxctl enable-device "$name" > /dev/null
wait_path "$DAXDEV" 10 || abort "devdax: $DAXDEV did not come back after enable-device"
for i in 0 1 2; do check_verify "dd$i" "$DAXDEV"; done

# --- fsdax: drain, unmount, then unbind: the order that avoids the kernels' defects ---
# fsdax_retire FS MOUNT_OPTION: one file system on the namespace (made fsdax anew).
fsdax_retire() {
    local fs=$1 mopt=$2 p sleeper
    make_fsdax namespace0.0
    MNT=/tmp/mnt-$fs; mkdir -p "$MNT"
    case $fs in
        xfs) mkfs.xfs -f -m rmapbt=1 "$PMEM" > "$WORK/mkfs.log" 2>&1 ;;
        ext4) mkfs.ext4 -F -q -b 4096 "$PMEM" 256M > "$WORK/mkfs.log" 2>&1 ;;
    esac || abort "setup: mkfs.$fs failed: $(tail -n1 "$WORK/mkfs.log")"
    mount -o "$mopt" "$PMEM" "$MNT" || abort "setup: mount -o $mopt ($fs) failed"
    for p in a b; do start_hold "$fs-$p" 2 "$MNT/$p" --file-size $((16 << 20)); done
    wait_ready "$fs-a" "$fs-b"
    # A process that is not daxmap's keeps a file of the mount open.
    echo x > "$MNT/open-file"; sleep 600 < "$MNT/open-file" & sleeper=$!
    sleep 1
    kmark "retire-$fs"
    # 1. It cannot be unmounted while the sleeper holds it: drained, reported, nothing unbound.
    retire_run "$fs-held" "$MNT" 2 --deadline 10 --then unmount-unbind
    jcheck "$fs: the daxmap processes released, the other process named" "$WORK/retire-$fs-held.json" \
        "j['processesNotified'] == 2 and [s['pid'] for s in j['stragglers']] == [$sleeper] and j['removal'] == 'withheld' and j['faultSignals'] == 0"
    for p in a b; do retire_holds "$fs-$p" 2; done
    grep -q " $MNT " /proc/mounts && [ -e "/sys/bus/nd/devices/$PFN/driver" ] && ok "$fs: still mounted and bound: nothing removed under a holder" || fail "$fs: the straggler's mount was removed"
    kill "$sleeper"; wait "$sleeper" 2>/dev/null
    # 2. --then unbind under the mount is refused: the unmount is asked for, not implied.
    retire_run "$fs-mounted" "$MNT" 3 --deadline 1 --then unbind
    # 3. Drain (nobody left), unmount, unbind.
    retire_run "$fs" "$MNT" 0 --deadline 10 --then unmount-unbind
    jcheck "$fs: unmounted, then unbound" "$WORK/retire-$fs.json" "j['removal'] == 'removed' and j['stragglers'] == []"
    grep -q " $MNT " /proc/mounts && fail "$fs: $MNT still mounted" || ok "$fs: unmounted"
    [ -e "/sys/bus/nd/devices/$PFN/driver" ] && fail "$fs: $PFN still bound" || ok "$fs: $PFN unbound (the device is gone)"
    [ "$(dmesg_since "retire-$fs" | grep -c 'Sending SIGBUS')" = 0 ] && ok "$fs: no SIGBUS sent by the kernel" || fail "$fs: the kernel sent SIGBUS during a planned removal"
    dmesg_since "retire-$fs" | grep -qE 'BUG: |Oops: |WARNING: ' && fail "$fs: kernel oops or warning during the planned removal" || ok "$fs: no oops, no warning"
    no_dstate && ok "$fs: no task in D state after the removal"
    drv_bind "$PFN" nd_pmem nd || abort "$fs: cannot re-bind $PFN"
    wait_path "$PMEM" 10 || abort "$fs: $PMEM did not come back"
    mount -o "$mopt" "$PMEM" "$MNT" || abort "$fs: remount failed"
    for p in a b; do check_verify "$fs-$p" "$MNT/$p"; done
    timed "$fs: final umount" 30 umount "$MNT"
}
fsdax_retire xfs dax=always
fsdax_retire ext4 dax
no_dstate && ok "no task in D state"
finish
