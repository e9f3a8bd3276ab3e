# shellcheck shell=bash
# Control runs: the removal scenarios' workload by PLAIN processes (no daxmap), then the
# removal, recording what the kernel does. Nothing here asserts: a control that shows a
# failure mode is the expected outcome. Facts go to $RESULTS/facts.txt as KEY=VALUE lines
# (appended as they are learnt, so a run the kernel kills midway keeps what it had; the
# host, qemu/lib/matrix.py, adds what only the console shows: oopses, hung-task reports).
# Every wait is bounded: a removal that never returns is recorded, the tasks stuck behind
# it are listed, and the VM is stopped by an emergency reboot (sysrq b: no sync, no
# device shutdown, both of which would block behind a livelocked unbind).
. "$HARNESS/scenarios/lib.sh"
UNBIND_WAIT=${UNBIND_WAIT:-25}     # s a removal may take before it counts as stuck (the slowest that returned: 3 s)
EXIT_WAIT=${EXIT_WAIT:-10}         # s the workload gets to end by itself after it
KILL_WAIT=${KILL_WAIT:-10}         # s a kill -9'd task gets to go away

# (fact KEY VALUE is in lib.sh.)

# bounded SECS CMD...: run CMD in the background for at most SECS s; its status, or 124
# with CMD left behind (timeout(1) would wait forever for a task stuck in D state).
# Its output is in $WORK/bounded.out.
bounded() {
    local t=$1; shift
    local end=$(( $(uptime_s) + t )) pid
    "$@" > "$WORK/bounded.out" 2>&1 &
    pid=$!
    while ! reapable $pid && [ "$(uptime_s)" -lt $end ]; do nap 0.2; done
    reapable $pid || return 124
    wait $pid
}
oops_count() { dmesg | grep -cE 'BUG: |Oops: |general protection fault|kernel BUG at' || true; }

# try_umount PREFIX MNT SECS: umount, recorded as ok | target is busy | oops | hung | failed.
try_umount() {
    local p=$1 mnt=$2 t=$3 rc before out
    before=$(oops_count)
    fact "$p.umount" attempting
    bounded "$t" umount "$mnt"; rc=$?
    out=$(head -c 200 "$WORK/bounded.out")
    if [ "$(oops_count)" -gt "$before" ]; then
        fact "$p.umount" "oops: $(dmesg | grep -m1 -E 'BUG: |Oops: |general protection fault' | sed -E 's/^\[ *[0-9.]+\] //') (rc $rc)"
    elif [ $rc = 0 ]; then fact "$p.umount" ok
    elif [ $rc = 124 ]; then fact "$p.umount" "hung (no return in $t s; $(task_line "$(pids_named umount | head -n1)"))"
    else case $out in
        *busy*) fact "$p.umount" "target is busy" ;;
        *) fact "$p.umount" "failed rc $rc: $out" ;;
    esac; fi
}

# Workload processes: WL_PIDS[name]=pid.
declare -A WL_PIDS WL_KIND

# dd_loop NAME DIR: write 1 MiB files (new name each time) with conv=fsync until dd fails;
# each file whose dd returned is acknowledged (its path goes to $WORK/acked-dd).
dd_loop() {
    local name=$1 dir=$2
    (
        n=0
        while [ $n -lt 60 ]; do
            f=$dir/$name-$n
            dd if=$WORK/pattern of="$f" bs=64k conv=fsync status=none 2>> "$WORK/$name.err" || exit $?
            echo "$f" >> "$WORK/acked-dd"
            n=$((n + 1))
        done
        sleep 3600   # done writing: stay, as a process with files open would
    ) > /dev/null 2>&1 &
    WL_PIDS[$name]=$!; WL_KIND[$name]=dd
}

# mapper NAME MODE PATH SIZE [sync]: a python process storing into a shared mapping.
mapper() {
    local name=$1 mode=$2 path=$3 size=${4:-} sync=${5:-1}
    PLAINMAP_SYNC=$sync $PLAIN "$mode" "$path" $size > "$WORK/$name.log" 2>&1 &
    WL_PIDS[$name]=$!; WL_KIND[$name]=mmap
    if [ "$sync" = 1 ] && [ "${path#/dev/}" = "$path" ]; then WL_KIND[$name]=mmap,MAP_SYNC; fi
    wait_for_line "$WORK/$name.log" '^READY' 30 || abort "setup: mapper $name did not start: $(tail -n1 "$WORK/$name.log")"
}

# reapable PID: PID is gone or a zombie with no thread left (a zombie leader whose other
# threads sit in D state cannot be reaped: wait(1) on it would block forever).
reapable() {
    [ -e "/proc/$1" ] || return 0
    local tasks=("/proc/$1/task/"*)
    [ "$(proc_state "$1")" = Z ] && [ ${#tasks[@]} -le 1 ]
}
# (task_line, task_line_threads, dstate_list, children_of are in lib.sh: /proc only, no ps.)

# removal PREFIX CMD...: run the removal in the background, wait UNBIND_WAIT s.
# Facts PREFIX.removal=returned|stuck, PREFIX.removalSeconds, PREFIX.removalRc.
# Returns 0 if it returned.
removal() {
    local p=$1; shift
    local t0 end; t0=$(uptime_s); end=$((t0 + UNBIND_WAIT))
    rm -f "$WORK/$p.rc"
    ( "$@" > "$WORK/$p.out" 2>&1; echo $? > "$WORK/$p.rc" ) &
    REMOVAL_PID=$!
    say "$p: removal: $*"
    while [ ! -s "$WORK/$p.rc" ] && [ "$(uptime_s)" -lt $end ]; do nap 0.2; done
    if [ -s "$WORK/$p.rc" ]; then
        fact "$p.removal" returned
        fact "$p.removalRc" "$(cat "$WORK/$p.rc") $(head -c 200 "$WORK/$p.out")"
        fact "$p.removalSeconds" $(( $(uptime_s) - t0 ))
        return 0
    fi
    fact "$p.removal" "stuck"
    fact "$p.removalSeconds" ">$UNBIND_WAIT"
    # Its kernel stack (empty while it runs on a CPU: sampled until one is caught), the
    # CPUs' backtraces (sysrq l, twice) and the blocked tasks (sysrq w) go to the console.
    local k i st
    for k in $(children_of "$REMOVAL_PID") $REMOVAL_PID; do
        st=""
        for i in $(seq 20); do
            st=$(tr '\n' ' ' < "/proc/$k/stack" 2>/dev/null | head -c 400)
            [ -n "$st" ] && break
            nap 0.1
        done
        fact "$p.removalTask" "pid $k $(task_line "$k") stack: ${st:-(on a CPU in 20 samples)}"
    done
    echo l > /proc/sysrq-trigger 2>/dev/null; sleep 1
    echo l > /proc/sysrq-trigger 2>/dev/null; sleep 1
    echo w > /proc/sysrq-trigger 2>/dev/null; sleep 1
    return 1
}

# workload_outcome PREFIX: how each workload process ended (EXIT_WAIT s), then kill -9 of
# the rest and who survived it. Facts PREFIX.exit.NAME, PREFIX.signals, PREFIX.unkillable...
workload_outcome() {
    local p=$1 name pid rc end sigs="" left="" unk="" st
    end=$(( $(uptime_s) + EXIT_WAIT ))
    for name in "${!WL_PIDS[@]}"; do
        pid=${WL_PIDS[$name]}
        while ! reapable "$pid" && [ "$(uptime_s)" -lt $end ]; do nap 0.2; done
        if reapable "$pid"; then
            wait "$pid"; rc=$?
            if [ $rc -ge 128 ]; then
                fact "$p.exit.$name" "$rc (SIG$(kill -l $((rc - 128)) 2>/dev/null)) ${WL_KIND[$name]}"
                sigs+="$name:SIG$(kill -l $((rc - 128)) 2>/dev/null) "
            else
                fact "$p.exit.$name" "$rc ${WL_KIND[$name]} $(tail -n1 "$WORK/$name.err" 2>/dev/null; grep -v '^count\|^READY' "$WORK/$name.log" 2>/dev/null | tail -n1)"
            fi
        else
            fact "$p.exit.$name" "still running after ${EXIT_WAIT}s: $(task_line "$pid") (threads: $(task_line_threads "$pid")) ${WL_KIND[$name]}"
            left+="$name "
        fi
    done
    fact "$p.signals" "${sigs:-none}"
    fact "$p.dstate" "$(dstate_list)"
    [ -n "$left" ] || { fact "$p.unkillable" none; return 0; }
    # kill -9 each one left and its children (a dd loop's dd), then who is still there.
    local -A kids=()
    for name in $left; do kids[$name]=$(children_of "${WL_PIDS[$name]}" | tr '\n' ' '); done
    for name in $left; do kill -9 "${WL_PIDS[$name]}" ${kids[$name]} 2>/dev/null; done
    end=$(( $(uptime_s) + KILL_WAIT ))
    for name in $left; do
        pid=${WL_PIDS[$name]}
        while ! reapable "$pid" && [ "$(uptime_s)" -lt $end ]; do nap 0.2; done
        if ! reapable "$pid"; then unk+="$name($(task_line "$pid"); threads $(task_line_threads "$pid")) | "; fi
        local k
        for k in ${kids[$name]}; do
            while ! reapable "$k" && [ "$(uptime_s)" -lt $end ]; do nap 0.2; done
            reapable "$k" || unk+="$name/$(cat /proc/$k/comm 2>/dev/null)($(task_line "$k")) | "
        done
    done
    fact "$p.killed" "$left"
    fact "$p.unkillable" "${unk:+${unk% | }}"
    [ -n "$unk" ] || fact "$p.unkillable" none
}

# hard_stop WHY: the record is complete; stop the VM without sync or device shutdown.
hard_stop() {
    say "hard stop: $*"
    echo "hard-stop $*" >> "$RESULT_FILE"
    echo end >> "$RESULT_FILE"     # not finish(): its sync may block behind the kernel
    dmesg > "$RESULTS/dmesg.txt" 2>/dev/null
    echo b > /proc/sysrq-trigger
    sleep 30
}

# acked_check: every acknowledged dd file reads back as the pattern. Facts acked/lost.
acked_check() {
    local p=$1 f n=0 lost=0 want
    want=$(sha1sum < "$WORK/pattern")
    while read -r f; do
        n=$((n + 1))
        [ "$(timeout 10 sha1sum < "$f" 2>/dev/null)" = "$want" ] || { lost=$((lost + 1)); echo "$f" >> "$WORK/lost-dd"; }
    done < <(cat "$WORK/acked-dd" 2>/dev/null)
    fact "$p.recordsAcknowledged" "$n"
    fact "$p.recordsLost" "$lost"
}

# held_unmap PREFIX PID: the idle mapping of `plainmap.py hold` is unmapped now, after the
# removal. Fact PREFIX.heldUnmap = ok | oops: ... | no answer: ...
held_unmap() {
    local p=$1 pid=$2 before; before=$(oops_count)
    kill -USR1 "$pid"
    wait_for_line "$WORK/held.log" '^unmapped' 15
    if [ "$(oops_count)" -gt "$before" ]; then
        fact "$p.heldUnmap" "oops: $(dmesg | grep -E 'BUG: |Oops: |general protection fault' | sed -n "$((before + 1))p" | sed -E 's/^\[ *[0-9.]+\] //') at $(dmesg | grep -E 'RIP: 0010:' | tail -n1 | sed -E 's/.*RIP: 0010://; s/\+0x.*//') (munmap of a mapping idle across the unbind)"
    elif grep -q '^unmapped 0' "$WORK/held.log"; then
        fact "$p.heldUnmap" ok
    else
        fact "$p.heldUnmap" "no answer in 15 s: $(task_line "$pid") $(tail -n1 "$WORK/held.log")"
    fi
}

# control_fsdax FS: the seed's scenario without daxmap on FS (xfs | ext4).
control_fsdax() {
    local fs=$1 p=$1 MNT=/tmp/mnt
    fact run control; fact fs "$fs"
    load_modules
    make_fsdax namespace0.0
    case $fs in
        xfs) mkfs.xfs -f -m rmapbt=1 "$PMEM" > "$WORK/mkfs.log" 2>&1; MOPT=dax=always ;;
        ext4) mkfs.ext4 -F -q -b 4096 "$PMEM" 256M > "$WORK/mkfs.log" 2>&1; MOPT=dax ;;
    esac || abort "setup: mkfs.$fs failed: $(tail -n1 "$WORK/mkfs.log")"
    mkdir -p $MNT
    mount -o $MOPT "$PMEM" $MNT || abort "setup: mount -o $MOPT failed"
    grep -q " $MNT $fs .*dax" /proc/mounts || abort "setup: not a DAX mount: $(grep " $MNT " /proc/mounts)"
    head -c $((1 << 20)) /dev/urandom > "$WORK/pattern"
    : > "$WORK/acked-dd"
    # The seed's load: several processes doing file I/O and MAP_SHARED stores.
    dd_loop dd1 $MNT; dd_loop dd2 $MNT
    mapper map-sync store $MNT/map-sync $((8 << 20)) 1
    mapper map-shared store $MNT/map-shared $((8 << 20)) 0
    wait_for_line "$WORK/acked-dd" . 30 || abort "setup: the dd loops acknowledged nothing in 30 s: $(tail -n1 "$WORK"/dd1.err)"
    # ext4 has no dax holder: nothing unmaps a mapping at the unbind. One that stays idle
    # across it is unmapped afterwards, to show what the kernel does then (7.2 oopses).
    local held=""
    if [ "$fs" = ext4 ]; then
        $PLAIN hold $MNT/held $((8 << 20)) > "$WORK/held.log" 2>&1 &
        held=$!
        wait_for_line "$WORK/held.log" '^READY' 30 || abort "setup: the held mapping did not start: $(tail -n1 "$WORK/held.log")"
    fi
    sleep 2
    fact workload "2 dd conv=fsync loops (1 MiB files), 1 MAP_SYNC + 1 MAP_SHARED python store loop (8 MiB files)"
    kmark unbind
    local returned=1
    removal "$p" sh -c "echo $PFN > /sys/bus/nd/drivers/nd_pmem/unbind" || returned=0
    workload_outcome "$p"
    [ -n "$held" ] && [ $returned = 1 ] && held_unmap "$p" "$held"
    local sig; sig=$(dmesg_since unbind | grep -c 'Sending SIGBUS' || true)
    fact "$p.sigbusMessages" "$sig"
    dmesg_since unbind | grep -q 'about to be removed' && fact "$p.preRemove" yes || fact "$p.preRemove" no
    dmesg_since unbind | grep -qi 'xfs.*shutting down\|Corruption of on-disk metadata' && fact "$p.fsShutdown" yes
    if [ $returned = 0 ]; then
        # A livelocked unbind: the mount cannot go, the device cannot come back.
        try_umount "$p" $MNT 15
        fact "$p.dstateAfterUmount" "$(dstate_list)"
        fact "$p.rebind" "not tried: the unbind never returned (a re-bind blocks in device_driver_attach behind it)"
        fact "$p.data" "unknown: the device never came back"
        hard_stop "the removal never returned"
    fi
    if [ "$fs" = ext4 ]; then
        # As the daxmap scenario: re-bind with the stale mount still there, read the
        # files from a copy of the device (e2fsck, debugfs), the umount last.
        if drv_bind "$PFN" nd_pmem nd && wait_path "$PMEM" 10; then
            fact "$p.rebind" ok
            bounded 60 dd if="$PMEM" of=/tmp/ext4.img bs=1M count=256 status=none
            e2fsck -fy /tmp/ext4.img > "$WORK/fsck.log" 2>&1; fact "$p.e2fsck" "exit $?"
            mkdir -p /tmp/x; mount -t tmpfs tmpfs $MNT 2>/dev/null
            while read -r f; do debugfs -R "dump /${f#$MNT/} $f" /tmp/ext4.img > /dev/null 2>&1; done < "$WORK/acked-dd"
            fact "$p.remount" "read from a copy of the re-bound device (e2fsck + debugfs)"
            acked_check "$p"
            umount $MNT 2>/dev/null
            rm -f /tmp/ext4.img
        else
            fact "$p.rebind" "failed"
        fi
        try_umount "$p" $MNT 30
    else
        try_umount "$p" $MNT 30
        local out rc
        if drv_bind "$PFN" nd_pmem nd && wait_path "$PMEM" 10; then
            fact "$p.rebind" ok
            bounded 30 mount -o $MOPT "$PMEM" $MNT; rc=$?; out=$(head -c 200 "$WORK/bounded.out")
            if [ $rc = 0 ]; then
                fact "$p.remount" ok
                acked_check "$p"
                bounded 30 umount $MNT && fact "$p.finalUmount" ok || fact "$p.finalUmount" "rc $?"
            else
                fact "$p.remount" "failed rc $rc: $out"
                fact "$p.data" "unknown: remount failed"
            fi
        else
            fact "$p.rebind" failed
        fi
    fi
    fact "$p.dstateAtEnd" "$(dstate_list)"
    # sync could block behind a frozen filesystem: bounded, and recorded.
    bounded 15 sync && fact "$p.sync" ok || fact "$p.sync" "hung (no return in 15 s): $(dstate_list)"
    hard_stop "control recorded"
}

# control_devdax_one P DEV NS METHOD: writers on DEV, removal by METHOD, restore, check.
control_devdax_one() {
    local p=$1 dev=$2 ns=$3 m=$4 name; name=$(basename "$dev")
    WL_PIDS=(); WL_KIND=()
    local size; size=$(cat "/sys/bus/dax/devices/$name/size")
    local soff=$((size / 2)) slen=$((1 << 20))
    $PLAIN sentinel-write "$dev" $soff $slen > "$WORK/$p-sentinel.log" 2>&1 || abort "setup: sentinel write failed: $(tail -n1 "$WORK/$p-sentinel.log")"
    local quarter=$(( (size / 4) & ~((2 << 20) - 1) ))
    mapper "$p-store1" store "$dev" $quarter
    mapper "$p-store2" store "$dev" $quarter
    mapper "$p-read" write "$dev"
    sleep 1
    kmark "$p"
    local returned=1
    case $m in
        device_dax) removal "$p" sh -c "echo $name > /sys/bus/dax/drivers/device_dax/unbind" || returned=0 ;;
        namespace) removal "$p" ndctl disable-namespace "$ns" || returned=0 ;;
    esac
    workload_outcome "$p"
    fact "$p.sigbusMessages" "$(dmesg_since "$p" | grep -c 'Sending SIGBUS' || true)"
    [ $returned = 1 ] || { fact "$p.rebind" "not tried: the removal never returned"; hard_stop "the removal never returned"; }
    case $m in
        device_dax) drv_bind "$name" device_dax dax ;;
        namespace)  ndctl enable-namespace "$ns" > /dev/null ;;
    esac
    if wait_path "$dev" 10; then
        fact "$p.rebind" ok
        fact "$p.recordsAcknowledged" 1
        if timeout 20 $PLAIN sentinel-check "$dev" $soff $slen > "$WORK/$p-check.log" 2>&1; then
            fact "$p.recordsLost" 0
        else
            fact "$p.recordsLost" 1; fact "$p.data" "sentinel: $(tail -n1 "$WORK/$p-check.log")"
        fi
    else
        fact "$p.rebind" "failed: $dev did not come back"
    fi
    fact "$p.dstateAtEnd" "$(dstate_list)"
}

# control_devdax NS: device-dax removal without daxmap: device_dax unbind, then
# ndctl disable-namespace (as devdax-unbind).
control_devdax() {
    local ns=$1
    fact run control
    load_modules
    make_devdax "$ns"
    fact workload "2 python MAP_SHARED store loops + 1 reader on $DAXDEV; a sentinel (1 MiB, msync) checked after the restore"
    control_devdax_one device_dax "$DAXDEV" "$ns" device_dax
    control_devdax_one namespace "$DAXDEV" "$ns" namespace
    hard_stop "control recorded"
}
