#!/bin/bash
# Soak (make soak CYCLES=N): one VM, N cycles rotating the device-dax removal paths
# (device_dax unbind, ndctl disable-namespace, daxctl disable-device, ndctl disable-region)
# under `daxmap hold` (4 guarded writers); the device is restored while the holder process
# is still alive (--await-return) in half the cycles and after it exited in the other half,
# alternating every 4 cycles so that each path gets both; every cycle ends with
# `daxmap verify`. One `daxmap watch` lives across all cycles (its RSS is sampled).
# Not yet in the rotation: the fsdax XFS/ext4 unbinds, poison (a poisoned page stays
# poisoned for later cycles) and raw writers under replacePages (the CLI has no such mode).
# Writes $RESULTS/soak.json (summary) and soak-cycles.csv (one line per cycle).
. "$HARNESS/scenarios/control-lib.sh"
CYCLES=${SOAK_CYCLES:-25}
load_modules
make_devdax namespace0.0
need_daxmap hold
NS=namespace0.0 REGION=region0 NAME=$(basename "$DAXDEV")
"$DAXMAP" watch --json > "$WORK/watch.log" 2>&1 &
WATCH=$!
sleep 2
rss() { awk '/^VmRSS/ {print $2}' "/proc/$WATCH/status" 2>/dev/null || echo 0; }
echo "cycle,method,await,seconds,exit,acked,lost,descriptorsOpen,watchRssKiB" > "$RESULTS/soak-cycles.csv"
hangs=0 crashes=0 nonzero=0 acked=0 lost=0 fdsopen=0 verifyFail=0
methods=(device_dax namespace daxctl region)
remove() {
    case $1 in
        device_dax) echo "$NAME" > /sys/bus/dax/drivers/device_dax/unbind ;;
        namespace) ndctl disable-namespace $NS ;;
        daxctl) daxctl disable-device "$NAME" ;;
        region) ndctl disable-region $REGION ;;
    esac
}
restore() {
    case $1 in
        device_dax) echo "$NAME" > /sys/bus/dax/drivers/device_dax/bind ;;
        namespace) ndctl enable-namespace $NS ;;
        daxctl) daxctl enable-device "$NAME" ;;
        region) ndctl enable-region $REGION ;;
    esac
}
for ((i = 0; i < CYCLES; i++)); do
    m=${methods[i % 4]} aw=$(( (i / 4) % 2 )) t0=$(date +%s.%N)
    rm -f "$WORK/acked-soak.log"
    args=(); [ $aw = 1 ] && args=(--await-return 60)
    "$DAXMAP" hold "$DAXDEV" --holders 4 --acked "$WORK/acked-soak.log" --json --timeout 120 "${args[@]}" \
        > "$WORK/hold.json" 2> "$WORK/hold.err" &
    hp=$!
    wait_for_line "$WORK/hold.err" '^READY' 60 || { say "cycle $i: no READY"; }
    sleep 0.5
    if ! bounded 30 remove "$m"; then
        hangs=$((hangs + 1)); say "cycle $i: removal by $m hung"; fact soak.hang "cycle $i $m removal"
        break
    fi
    if [ $aw = 1 ]; then
        wait_for_line "$WORK/hold.err" '^REMOVED' 30 || say "cycle $i: no REMOVED"
        bounded 30 restore "$m" || { hangs=$((hangs + 1)); break; }
    fi
    end=$(( $(uptime_s) + 90 ))
    while ! reapable $hp && [ "$(uptime_s)" -lt $end ]; do sleep 0.2; done
    if reapable $hp; then wait $hp; rc=$?; else rc=hang; hangs=$((hangs + 1)); kill -9 $hp; fi
    [ $aw = 1 ] || bounded 30 restore "$m" || { hangs=$((hangs + 1)); break; }
    wait_path "$DAXDEV" 10 || { say "cycle $i: $DAXDEV did not come back"; verifyFail=$((verifyFail + 1)); break; }
    case $rc in hang) ;; 0) ;; *) if [ "$rc" -ge 128 ]; then crashes=$((crashes + 1)); else nonzero=$((nonzero + 1)); fi ;; esac
    fo=$(json "$WORK/hold.json" "j.get('descriptorsOpen', 0)" 2>/dev/null); fo=${fo//[^0-9]/}; fdsopen=$((fdsopen + ${fo:-0}))
    "$DAXMAP" verify "$DAXDEV" --acked "$WORK/acked-soak.log" --json > "$WORK/verify.json" 2> "$WORK/verify.err"; vrc=$?
    a=$(json "$WORK/verify.json" "j.get('recordsAcknowledged', 0)" 2>/dev/null); a=${a//[^0-9]/}
    l=$(json "$WORK/verify.json" "j.get('recordsLost', 0)" 2>/dev/null); l=${l//[^0-9]/}
    [ $vrc = 0 ] || verifyFail=$((verifyFail + 1))
    acked=$((acked + ${a:-0})); lost=$((lost + ${l:-0}))
    secs=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $t0}")
    echo "$i,$m,$aw,$secs,$rc,${a:-0},${l:-0},${fo:-0},$(rss)" >> "$RESULTS/soak-cycles.csv"
    say "cycle $i: $m await=$aw exit=$rc acked=${a:-0} lost=${l:-0} ${secs}s rss=$(rss)KiB"
done
warn=$(dmesg | grep -cE 'WARNING: CPU|refcount_t: ' || true)
oops=$(dmesg | grep -cE 'BUG: |Oops: |general protection fault' || true)
hung=$(dmesg | grep -c 'blocked for more than' || true)
kill -0 $WATCH 2>/dev/null && watchAlive=True || watchAlive=False
kill $WATCH 2>/dev/null
python3 - "$RESULTS/soak-cycles.csv" "$RESULTS/soak.json" <<EOF
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
secs = sorted(float(r['seconds']) for r in rows) or [0.0]
rss = [int(r['watchRssKiB'] or 0) for r in rows]
out = {"cycles": len(rows), "cyclesRequested": $CYCLES, "hangs": $hangs, "crashes": $crashes,
       "nonZeroExits": $nonzero, "recordsAcknowledged": $acked, "recordsLost": $lost,
       "verifyFailures": $verifyFail, "descriptorsLeftOpen": $fdsopen,
       "kernelWarnings": $warn, "kernelOopses": $oops, "hungTaskReports": $hung,
       "watchAlive": $watchAlive, "watchRssKiBFirst": rss[0] if rss else 0,
       "watchRssKiBLast": rss[-1] if rss else 0, "watchRssKiBMax": max(rss) if rss else 0,
       "secondsP50": secs[len(secs) // 2], "secondsMax": secs[-1],
       "methods": sorted({r['method'] for r in rows})}
json.dump(out, open(sys.argv[2], "w"))
print(json.dumps(out))
EOF
[ $hangs = 0 ] && [ $crashes = 0 ] && [ $lost = 0 ] && [ $verifyFail = 0 ] && ok "soak: $CYCLES cycles" || fail "soak: hangs $hangs, crashes $crashes, lost $lost, verify failures $verifyFail"
finish
