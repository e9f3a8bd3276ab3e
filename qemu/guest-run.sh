#!/bin/bash
# Runs INSIDE the guest, in the chroot on the host root (read-only 9p).
# Sourced config: /tmp/results/config.sh (written by the host). Runs one scenario
# under a guest-side timeout, saves its log and dmesg to the results share.
set -u
. /tmp/results/config.sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp RESULTS=/tmp/results DAXMAP REPO HARNESS SCENARIO LANG=C.UTF-8 SOAK_CYCLES
cd /tmp || exit 1
script="$HARNESS/scenarios/$SCENARIO.sh"
if [ ! -f "$script" ]; then
    echo "fail harness: no scenario script $script" >> $RESULTS/result.txt
    exit 1
fi
echo "DAXMAP-GUEST: start $SCENARIO (daxmap: $DAXMAP)"
timeout -k 5 "${GUEST_TIMEOUT:-240}" bash "$script" > >(tee -a "$RESULTS/scenario.log") 2>&1
rc=$?
sleep 0.2
if [ $rc = 124 ] || [ $rc = 137 ]; then
    echo "DAXMAP-GUEST: scenario timed out after ${GUEST_TIMEOUT:-240}s"
    echo "timeout scenario did not finish within ${GUEST_TIMEOUT:-240}s" >> "$RESULTS/result.txt"
    # Who is stuck: tasks in D state, and the kernel's view of blocked tasks.
    ps -eo pid,stat,wchan:32,args 2>/dev/null | awk 'NR==1 || $2 ~ /^D/' | tee "$RESULTS/dstate.txt"
    if awk 'NR>1' "$RESULTS/dstate.txt" | grep -q .; then
        echo "dstate $(awk 'NR>1 {printf "%s(%s) ", $4, $3}' "$RESULTS/dstate.txt")" >> "$RESULTS/result.txt"
    fi
    echo w > /proc/sysrq-trigger 2>/dev/null
fi
echo "rc $rc" >> "$RESULTS/result.txt"
dmesg > "$RESULTS/dmesg.txt" 2>/dev/null
echo "DAXMAP-GUEST: end $SCENARIO rc=$rc"
exit $rc
