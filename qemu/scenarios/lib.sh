# shellcheck shell=bash
# Helpers for scenario scripts (run INSIDE the guest, in the chroot).
# Result lines go to $RESULTS/result.txt; qemu/lib/verdict.sh reads them.
set -u
RESULTS=${RESULTS:-/tmp/results}
RESULT_FILE=$RESULTS/result.txt
DAXMAP=${DAXMAP:-daxmap}
WORK=/tmp/work
mkdir -p "$WORK"

# say: a log line stamped with the guest uptime (matches the dmesg timestamps).
say() { printf '[%s] %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$*"; }
ok() { echo "ok $*" >> "$RESULT_FILE"; say "ok: $*"; }
fail() { echo "fail $*" >> "$RESULT_FILE"; say "FAIL: $*"; }
known() { echo "known $*" >> "$RESULT_FILE"; say "known: $*"; }
# expect_oops REGEX TEXT: the next step is known to oops this kernel.
expect_oops() { echo "expect-oops $1|$2" >> "$RESULT_FILE"; say "expecting a kernel oops: $2"; sync; }
finish() { echo "end" >> "$RESULT_FILE"; say "scenario end"; sync; }
# abort REASON: fail and stop the scenario here (the VM powers off).
abort() { fail "$*"; finish; exit 0; }

# check NAME CMD...: ok NAME if CMD succeeds, else fail NAME.
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n: '$*' failed"; fi; }

# json FILE EXPR: evaluate a python expression on the JSON in FILE (bound to j).
# The JSON is the last line of FILE that parses (daxmap prints one object).
json() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
j = None
text = open(sys.argv[1], errors="replace").read()
try:
    j = json.loads(text)
except Exception:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line[:1] in "[{":
            try:
                j = json.loads(line); break
            except Exception:
                pass
if j is None:
    print("<no json>"); sys.exit(2)
v = eval(sys.argv[2], {"j": j})
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
EOF
}

# jcheck NAME FILE EXPR: ok if the python expression over j is true.
jcheck() {
    local n=$1 f=$2 e=$3 v
    v=$(json "$f" "bool($e)" 2>&1)
    if [ "$v" = true ]; then ok "$n"; else fail "$n: expected $e, got $(json "$f" 'j' 2>&1 | head -c 300)"; fi
}

# need_daxmap SUBCOMMAND: the daxmap binary must exist and know SUBCOMMAND.
need_daxmap() {
    [ -x "$DAXMAP" ] || abort "daxmap binary missing at $DAXMAP (build it: make release, or pass --daxmap)"
    local out rc
    out=$("$DAXMAP" "$1" --help 2>&1); rc=$?
    if [ $rc != 0 ] && printf '%s' "$out" | grep -qiE 'unknown|unexpected|invalid|not (a )?(known|valid)|usage'; then
        abort "daxmap $1 not implemented yet ($DAXMAP $1 --help: exit $rc: $(printf '%s' "$out" | head -n1))"
    fi
}

# dx OUT ARGS...: run daxmap, stdout to OUT.json, stderr to OUT.err; returns its status.
dx() {
    local out=$1; shift
    say "daxmap $*"
    "$DAXMAP" "$@" > "$out.json" 2> "$out.err"
    local rc=$?
    say "  -> exit $rc: $(head -c 400 "$out.json" | tr '\n' ' ')"
    [ $rc = 0 ] || say "  stderr: $(tail -n 5 "$out.err" | tr '\n' ' ')"
    return $rc
}

# dx_reason OUT RC: a short reason for a failed daxmap run.
dx_reason() { echo "exit $2: $(grep -v '^READY' "$1.err" | tail -n 2 | tr '\n' ' ' | head -c 200)"; }

# wait_for_file_line FILE PATTERN TIMEOUT: wait until FILE has a line matching PATTERN.
wait_for_line() {
    local f=$1 p=$2 t=$3 i=0
    while [ $i -lt $((t * 10)) ]; do
        grep -q "$p" "$f" 2>/dev/null && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# wait_pid_timeout PID TIMEOUT: wait for PID (a child) up to TIMEOUT s; its status, or 124.
wait_pid_timeout() {
    local pid=$1 t=$2 i=0
    while kill -0 "$pid" 2>/dev/null; do
        [ $i -ge $((t * 10)) ] && return 124
        sleep 0.1; i=$((i + 1))
    done
    wait "$pid"
}

# proc_state PID: the process state letter (D = uninterruptible).
proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

# open_fds_on PID PATTERN: how many descriptors of PID point at PATTERN.
open_fds_on() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c -- "$2" || true; }

# dmesg_since MARK: kernel messages after the line containing MARK (written with kmsg).
kmark() { echo "DAXMAP-MARK $1" > /dev/kmsg; }
dmesg_since() { dmesg | sed -n "/DAXMAP-MARK $1/,\$p"; }

# --- device setup ----------------------------------------------------------------
load_modules() {
    local m
    for m in nfit nd_pmem dax_pmem device_dax nd_e820 xfs ext4; do modprobe -q "$m" 2>/dev/null; done
    udevadm settle 2>/dev/null || true
}

# wait_path PATH TIMEOUT
wait_path() { local i=0; while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done; [ -e "$1" ]; }

# make_devdax NS: namespace NS -> devdax, align 2M. Sets DAXDEV (/dev/daxX.Y).
make_devdax() {
    local ns=$1 out
    out=$(ndctl create-namespace -f -e "$ns" -m devdax --align=2M 2>&1) ||
        abort "setup: ndctl create-namespace -e $ns -m devdax failed: $(echo "$out" | tail -n1)"
    echo "$out" > "$WORK/create-$ns.json"
    DAXDEV=/dev/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["daxregion"]["devices"][0]["chardev"])' "$WORK/create-$ns.json")
    wait_path "$DAXDEV" 10 || abort "setup: $DAXDEV did not appear"
    say "devdax: $DAXDEV ($ns)"
}

# make_fsdax NS: namespace NS -> fsdax. Sets PMEM (/dev/pmemN) and PFN (pfnN.M).
make_fsdax() {
    local ns=$1 out
    out=$(ndctl create-namespace -f -e "$ns" -m fsdax 2>&1) ||
        abort "setup: ndctl create-namespace -e $ns -m fsdax failed: $(echo "$out" | tail -n1)"
    echo "$out" > "$WORK/create-$ns.json"
    PMEM=/dev/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["blockdev"])' "$WORK/create-$ns.json")
    wait_path "$PMEM" 10 || abort "setup: $PMEM did not appear"
    PFN=$(basename "$(readlink -f "/sys/block/$(basename "$PMEM")/device")")
    say "fsdax: $PMEM on $PFN ($ns)"
}

# nd_unbind DEV DRIVER / nd_bind DEV DRIVER (bus nd or dax, from the driver)
drv_unbind() { echo "$1" > "/sys/bus/$3/drivers/$2/unbind"; }
drv_bind() { echo "$1" > "/sys/bus/$3/drivers/$2/bind"; }
