#!/bin/bash
# scenario: machine=nvdimm2 role=soak order=990
# checks: `make soak CYCLES=N` only: N cycles rotating `device_dax` unbind, `ndctl disable-namespace`, `daxctl disable-device`, `ndctl disable-region`, `daxmap retire --then disable` (device-dax, namespace0.0), XFS and ext4 by `daxmap retire --then unmount-unbind` (a new file system on namespace1.0 each cycle) and `daxmap poison --log`, under `daxmap hold` (4 DaxLog writers, 2 raw writers); device-dax restored during (`--await-return`) or after the holder's life; verify every cycle; one `daxmap watch` throughout; each cycle's console line says where its time went; `soak.json`, per-cycle CSV, SVG plot in `.qemu-out/latest/`
# Soak (make soak CYCLES=N): one VM (two NVDIMMs), N cycles rotating every removal path:
#   device-dax on namespace0.0: device_dax unbind, ndctl disable-namespace, daxctl
#     disable-device, ndctl disable-region, and `daxmap retire --then disable` (planned);
#   fsdax on namespace1.0, made afresh each cycle: XFS (dax=always) and ext4 (dax), each
#     removed by `daxmap retire --then unmount-unbind` (planned: unmount, then the pfn
#     unbind). An unplanned pfn unbind under either is followed by an umount that can oops
#     in dax_disassociate_entry, on 6.12 too (seen here: XFS in cycle 4 of a run, ext4
#     after every holder had released); fsdax-xfs-unbind and fsdax-ext4-unbind show that
#     path once per kernel.
#   poison: `daxmap poison --log` (MADV_HWPOISON under a DaxLog, a new page each time).
# Removal cycles run `daxmap hold` (4 guarded writers, each a DaxLog, and 2 raw writers:
# unguarded stores under replacePages, which must cost pages, never the process); on device-dax the device is restored
# while the holder process is still alive (--await-return) in every other round of the
# rotation and after it exited in the others, so each path gets both; on fsdax it is always
# restored after the holder exited (a dead mount cannot come back under a live process:
# it is unmounted, re-bound, mounted again). Every removal cycle ends with `daxmap verify`.
# One `daxmap watch` lives across all cycles (its RSS is sampled).
# Writes $RESULTS/soak.json (summary) and soak-cycles.csv (one line per cycle).
. "$HARNESS/scenarios/control-lib.sh"
CYCLES=${SOAK_CYCLES:-25}
load_modules
make_devdax namespace0.0
NS=namespace0.0 REGION=region0 NAME=$(basename "$DAXDEV")
make_fsdax namespace1.0
FSMNT=/tmp/mnt-soak; mkdir -p $FSMNT
need_daxmap hold
need_daxmap retire
need_daxmap poison
methods=(device_dax namespace daxctl region xfs ext4 poison retire)
say "soak: $CYCLES cycles rotating ${methods[*]}"
"$DAXMAP" watch --json > "$WORK/watch.log" 2>&1 &
WATCH=$!
sleep 2
# mark PHASE: how far into the cycle PHASE ended (in the cycle's line: where the time goes).
mark() { phases+=" $1 $(( (${EPOCHREALTIME/./} - t0) / 1000 ))ms"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$WATCH/status" 2>/dev/null || echo 0; }
echo "cycle,method,await,seconds,exit,acked,lost,descriptorsOpen,watchRssKiB" > "$RESULTS/soak-cycles.csv"
hangs=0 crashes=0 nonzero=0 acked=0 lost=0 fdsopen=0 verifyFail=0 poisoned=0 poisonFail=0 umountFail=0 npoison=0
rawRounds=0 rawLost=0 rawUntold=0
remove() {
    case $1 in
        device_dax) echo "$NAME" > /sys/bus/dax/drivers/device_dax/unbind ;;
        namespace) ndctl disable-namespace $NS ;;
        daxctl) daxctl disable-device "$NAME" ;;
        region) ndctl disable-region $REGION ;;
        retire) "$DAXMAP" retire "$DAXDEV" --deadline 10 --then disable --json > "$WORK/retire.json" 2> "$WORK/retire.err" ;;
        xfs|ext4) "$DAXMAP" retire "$FSMNT" --deadline 10 --then unmount-unbind --json > "$WORK/retire.json" 2> "$WORK/retire.err" ;;
    esac
}
restore() {
    case $1 in
        device_dax) echo "$NAME" > /sys/bus/dax/drivers/device_dax/bind ;;
        namespace) ndctl enable-namespace $NS ;;
        daxctl|retire) daxctl enable-device "$NAME" ;;
        region) ndctl enable-region $REGION ;;
        xfs|ext4) echo "$PFN" > /sys/bus/nd/drivers/nd_pmem/bind ;;
    esac
}
fs_mount() {
    case $1 in
        xfs) mount -o dax=always "$PMEM" $FSMNT ;;
        ext4) mount -o dax "$PMEM" $FSMNT ;;
    esac
}
fs_make() {
    case $1 in
        xfs) mkfs.xfs -f -m rmapbt=1 "$PMEM" ;;
        ext4) mkfs.ext4 -F -q -b 4096 "$PMEM" 256M ;;
    esac > "$WORK/mkfs.log" 2>&1 && fs_mount "$1"
}
for ((i = 0; i < CYCLES; i++)); do
    m=${methods[i % ${#methods[@]}]} aw=$(( (i / ${#methods[@]}) % 2 )) t0=${EPOCHREALTIME/./} phases=
    a=0 l=0 fo=0 rc=-
    if [ "$m" = poison ]; then
        # A new page each time (a page poisoned before is not poisoned again: no signal).
        off=$(( (3 << 20) + 4096 * (npoison % 256) )); npoison=$((npoison + 1))
        "$DAXMAP" poison "$DAXDEV" --offset $off --log --force --json > "$WORK/poison.json" 2> "$WORK/poison.err"; rc=$?
        if [ $rc = 0 ]; then
            # Exit 0 means every record came back intact or was reported lost, never both.
            a=$(json_int "$WORK/poison.json" returned 0)
            poisoned=$((poisoned + $(json_int "$WORK/poison.json" appended 0) - a))
        else
            poisonFail=$((poisonFail + 1)); say "cycle $i: poison --log exited $rc: $(head -c 300 "$WORK/poison.json") $(tail -n1 "$WORK/poison.err")"
            [ "$rc" -ge 128 ] && crashes=$((crashes + 1))
        fi
        acked=$((acked + ${a:-0}))
    else
        target=$DAXDEV args=()
        case $m in
            xfs|ext4) fs_make "$m" || { say "cycle $i: mkfs/mount $m failed: $(tail -n1 "$WORK/mkfs.log")"; verifyFail=$((verifyFail + 1)); break; }
                      target=$FSMNT/soak args=(--create $((16 << 20))) aw=0 ;;
        esac
        rm -f "$WORK/acked-soak.log"
        [ $aw = 1 ] && args+=(--await-return 60)
        "$DAXMAP" hold "$target" --holders 4 --raw-holders 2 --acked "$WORK/acked-soak.log" --json --timeout 120 "${args[@]}" \
            > "$WORK/hold.json" 2> "$WORK/hold.err" &
        hp=$!
        wait_for_line "$WORK/hold.err" '^READY' 60 || { say "cycle $i: no READY"; }
        mark ready
        sleep 0.2   # READY: every writer has acknowledged a record; now they are mid-flight
        if ! bounded 45 remove "$m"; then
            hangs=$((hangs + 1)); say "cycle $i: removal by $m hung"; fact soak.hang "cycle $i $m removal"
            break
        fi
        mark removed
        if { [ "$m" = retire ] || [ "$m" = xfs ] || [ "$m" = ext4 ]; } && ! grep -q '"removal":"removed"' "$WORK/retire.json"; then
            say "cycle $i: retire did not remove: $(head -c 300 "$WORK/retire.json") $(tail -n1 "$WORK/retire.err")"
            nonzero=$((nonzero + 1))
        fi
        if [ $aw = 1 ]; then
            wait_for_line "$WORK/hold.err" '^REMOVED' 30 || say "cycle $i: no REMOVED"
            bounded 30 restore "$m" || { hangs=$((hangs + 1)); break; }
        fi
        end=$(( $(uptime_s) + 90 ))
        while ! reapable $hp && [ "$(uptime_s)" -lt $end ]; do nap 0.2; done
        if reapable $hp; then wait $hp; rc=$?; else rc=hang; hangs=$((hangs + 1)); kill -9 $hp; fi
        mark exited
        case $m in
            xfs|ext4) ! grep -q " $FSMNT " /proc/mounts || { umountFail=$((umountFail + 1)); say "cycle $i: retire left $FSMNT mounted"; break; } ;;
        esac
        [ $aw = 1 ] || bounded 30 restore "$m" || { hangs=$((hangs + 1)); break; }
        case $m in
            xfs|ext4) wait_path "$PMEM" 10 && fs_mount "$m" || { say "cycle $i: $PMEM did not come back or mount after the re-bind"; verifyFail=$((verifyFail + 1)); break; } ;;
            *) wait_path "$DAXDEV" 10 || { say "cycle $i: $DAXDEV did not come back"; verifyFail=$((verifyFail + 1)); break; } ;;
        esac
        mark restored
        case $rc in hang) ;; 0) ;; *) if [ "$rc" -ge 128 ]; then crashes=$((crashes + 1)); else nonzero=$((nonzero + 1)); fi ;; esac
        # A hold that printed nothing (crashed) counts its two raw writers as not told.
        fo=$(json_int "$WORK/hold.json" descriptorsOpen 0); fdsopen=$((fdsopen + fo))
        rawRounds=$((rawRounds + $(json_int "$WORK/hold.json" rawRounds 0)))
        rawLost=$((rawLost + $(json_int "$WORK/hold.json" rawBytesLost 0)))
        rawUntold=$((rawUntold + $(json_int "$WORK/hold.json" rawHolders 2) - $(json_int "$WORK/hold.json" rawHoldersTold 0)))
        "$DAXMAP" verify "$target" --acked "$WORK/acked-soak.log" --json > "$WORK/verify.json" 2> "$WORK/verify.err"; vrc=$?
        mark verified
        a=$(json_int "$WORK/verify.json" recordsAcknowledged 0) l=$(json_int "$WORK/verify.json" recordsLost 0)
        [ $vrc = 0 ] || { verifyFail=$((verifyFail + 1)); say "cycle $i: verify exited $vrc: $(head -c 300 "$WORK/verify.json") $(tail -n1 "$WORK/verify.err")"; }
        acked=$((acked + ${a:-0})); lost=$((lost + ${l:-0}))
        case $m in xfs|ext4) bounded 30 umount $FSMNT || umountFail=$((umountFail + 1)) ;; esac
    fi
    us=$(( ${EPOCHREALTIME/./} - t0 )); secs=$((us / 1000000)).$(printf %02d $(( us % 1000000 / 10000 )))
    r=$(rss)
    echo "$i,$m,$aw,$secs,$rc,${a:-0},${l:-0},${fo:-0},$r" >> "$RESULTS/soak-cycles.csv"
    say "cycle $i: $m await=$aw exit=$rc acked=${a:-0} lost=${l:-0} ${secs}s (${phases# }) rss=${r}KiB"
done
warn=$(dmesg | grep -cE 'WARNING: CPU|refcount_t: ' || true)
oops=$(dmesg | grep -cE 'BUG: |Oops: |general protection fault' || true)
hung=$(dmesg | grep -c 'blocked for more than' || true)
kill -0 $WATCH 2>/dev/null && watchAlive=True || watchAlive=False
kill $WATCH 2>/dev/null
python3 - "$RESULTS/soak-cycles.csv" "$RESULTS/soak.json" <<PY
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
secs = sorted(float(r['seconds']) for r in rows) or [0.0]
rss = [int(r['watchRssKiB'] or 0) for r in rows]
out = {"cycles": len(rows), "cyclesRequested": $CYCLES, "hangs": $hangs, "crashes": $crashes,
       "nonZeroExits": $nonzero, "recordsAcknowledged": $acked, "recordsLost": $lost,
       "verifyFailures": $verifyFail, "descriptorsLeftOpen": $fdsopen, "umountFailures": $umountFail,
       "rawWriterRounds": $rawRounds, "rawBytesReplaced": $rawLost, "rawWritersNotTold": $rawUntold,
       "poisonCycles": $npoison, "poisonFailures": $poisonFail, "poisonedRecordsReportedLost": $poisoned,
       "kernelWarnings": $warn, "kernelOopses": $oops, "hungTaskReports": $hung,
       "watchAlive": $watchAlive, "watchRssKiBFirst": rss[0] if rss else 0,
       "watchRssKiBLast": rss[-1] if rss else 0, "watchRssKiBMax": max(rss) if rss else 0,
       "secondsP50": secs[len(secs) // 2], "secondsMax": secs[-1],
       "methods": sorted({r['method'] for r in rows})}
json.dump(out, open(sys.argv[2], "w"))
print(json.dumps(out))
PY
cycles=$(($(wc -l < "$RESULTS/soak-cycles.csv") - 1))
if [ $hangs = 0 ] && [ $crashes = 0 ] && [ $lost = 0 ] && [ $verifyFail = 0 ] && [ $poisonFail = 0 ] && [ $umountFail = 0 ] && [ $nonzero = 0 ] && [ $rawUntold = 0 ] && [ "$cycles" = "$CYCLES" ]; then
    ok "soak: $CYCLES cycles"
else
    fail "soak: $cycles of $CYCLES cycles; hangs $hangs, crashes $crashes, non-zero exits $nonzero, lost $lost, verify failures $verifyFail, poison failures $poisonFail, umount failures $umountFail, raw writers not told $rawUntold"
fi
finish
