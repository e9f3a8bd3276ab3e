# shellcheck shell=bash
# Helpers for scenario scripts (run INSIDE the guest, in the chroot).
# Result lines go to $RESULTS/result.txt; qemu/lib/verdict.sh reads them.
set -u
RESULTS=${RESULTS:-/tmp/results}
RESULT_FILE=$RESULTS/result.txt
DAXMAP=${DAXMAP:-daxmap}
WORK=/tmp/work
mkdir -p "$WORK"

# say: a log line stamped with the guest uptime (matches the dmesg timestamps), read with
# builtins: a fork costs 0.1-0.4 s under TCG, and every ok, fail and fact says a line.
say() { local up _; read -r up _ < /proc/uptime; printf '[%s] %s\n' "$up" "$*"; }
ok() { echo "ok $*" >> "$RESULT_FILE"; say "ok: $*"; }
fail() { echo "fail $*" >> "$RESULT_FILE"; say "FAIL: $*"; }
known() { echo "known $*" >> "$RESULT_FILE"; say "known: $*"; }
# The functions an oops of ext4's fsdax unbind defect (7.2) stops in: the zap of a mapping
# whose struct pages the unbind freed, or the mmu_gather batch that then frees its folios.
# Seen: __zap_vma_range, vm_normal_folio_pmd (munmap), folios_put_refs (exit); the rest of
# the list are the other steps of that zap and free that read the same struct pages.
EXT4_UNBIND_ZAP_FUNCS='__zap_vma_range|zap_huge_pmd|zap_pte_range|zap_present_ptes|vm_normal_folio_pmd|vm_normal_page|folios_put_refs|free_pages_and_swap_cache|__tlb_batch_free_encoded_pages|free_unref_folios|__folio_put|folio_remove_rmap_ptes|folio_remove_rmap_pmd'
# expect_oops REGEX TEXT: the next step is known to oops this kernel.
expect_oops() { echo "expect-oops $1|$2" >> "$RESULT_FILE"; say "expecting a kernel oops: $2"; sync; }
# Reproducers (scenarios repro-*: plain processes only, no daxmap) say what they did and
# what the kernel did: step CMD (the guest steps, for the report, in $RESULTS/steps.txt),
# signature REGEX (where the console excerpt of the report starts), then one of
# reproduced hang|oops|warning|error TEXT, not_reproduced TEXT, inconclusive TEXT.
step() { printf '%s\n' "$*" >> "$RESULTS/steps.txt"; say "step: $*"; }
signature() { echo "signature $*" >> "$RESULT_FILE"; }
reproduced() { local kind=$1; shift; echo "reproduced $kind|$*" >> "$RESULT_FILE"; say "REPRODUCED ($kind): $*"; }   # no sync: it may block behind what was reproduced
not_reproduced() { echo "not-reproduced $*" >> "$RESULT_FILE"; say "not reproduced: $*"; }
inconclusive() { echo "inconclusive $*" >> "$RESULT_FILE"; say "inconclusive: $*"; }
# new_oops_since MARK: the first oops/BUG line after MARK and its RIP function, if any.
new_oops_since() {
    local first rip
    first=$(dmesg_since "$1" | grep -m1 -E 'BUG: |Oops: |general protection fault|kernel BUG at') || return 1
    rip=$(dmesg_since "$1" | grep -m1 -E 'RIP: 0010:' | sed -E 's/.*RIP: 0010://; s/\+0x.*//')
    printf '%s at %s\n' "$(printf '%s' "$first" | sed -E 's/^\[ *[0-9.]+\] //')" "${rip:-?}"
}
# hazard REGEX TEXT: the next steps race a known kernel defect; an oops matching REGEX is it.
hazard() { echo "hazard $1|$2" >> "$RESULT_FILE"; say "known kernel hazard: $2"; sync; }
finish() { echo "end" >> "$RESULT_FILE"; say "scenario end"; sync; }
# fact KEY VALUE: one fact for the kernel matrix (qemu/lib/matrix.py), appended to
# $RESULTS/facts.txt as learnt; the last value of a key wins.
fact() { local v=${2//$'\n'/ }; printf '%s=%s\n' "$1" "${v:0:600}" >> "$RESULTS/facts.txt"; say "fact $1=$2"; }
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

# json_int FILE KEY DEFAULT: the integer KEY of the one-line JSON daxmap printed to FILE,
# DEFAULT when FILE or KEY is missing; in bash alone, because a python start costs about a
# second under TCG (the soak reads five fields a cycle). The first "KEY": in FILE counts.
json_int() {
    local t=
    [ -r "$1" ] && read -r -d '' t < "$1"
    if [[ $t =~ \"$2\":(-?[0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo "$3"; fi
}

# jchecks FILE NAME EXPR [NAME EXPR ...]: jcheck of each pair, in one python start (one
# costs 1-3 s under TCG, and check_hold makes eight checks). Returns 1 if one failed.
jchecks() {
    local f=$1 line rc=0 seen=0 want=$(( ($# - 1) / 2 )); shift
    while IFS= read -r line; do
        case $line in
            ok$'\t'*) ok "${line#ok$'\t'}"; seen=$((seen + 1)) ;;
            fail$'\t'*) fail "${line#fail$'\t'}"; rc=1; seen=$((seen + 1)) ;;
        esac
    done < <(python3 -S - "$f" "$@" <<'EOF'
import json, re, sys
j, text = None, ""
try:
    text = open(sys.argv[1], errors="replace").read()
    j = json.loads(text)
except Exception:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line[:1] in "[{":
            try:
                j = json.loads(line); break
            except Exception:
                pass
args = sys.argv[2:]
for name, expr in zip(args[0::2], args[1::2]):
    name = name.replace("\t", " ").replace("\n", " ")
    try:
        good = j is not None and bool(eval(expr, {"j": j}))
    except Exception as e:
        good = False
    if good:
        print("ok\t" + name)
        continue
    # The fields the expression names (or the whole JSON when it names none).
    keys = sorted(set(re.findall(r"j(?:\[|\.get\()['\"]([A-Za-z_]+)['\"]", expr)))
    if j is None:
        got = "<no json>"
    elif keys and isinstance(j, dict):
        got = json.dumps({k: j.get(k, "<missing>") for k in keys})
    else:
        got = json.dumps(j)
    print("fail\t%s: expected %s; got %s" % (name, expr, got[:300].replace("\n", " ")))
EOF
    )
    # A python that died part-way must not pass the checks it never made.
    [ $seen = $want ] || { fail "$f: only $seen of $want checks were evaluated (python3 failed?)"; rc=1; }
    return $rc
}

# jcheck NAME FILE EXPR: ok if the python expression over j is true.
jcheck() { jchecks "$2" "$1" "$3"; }

# json_field FILE KEY: the string or number KEY of the one-line JSON in FILE, in bash
# alone ("" when missing); the first "KEY": counts.
json_field() {
    local t=
    [ -r "$1" ] && read -r -d '' t < "$1"
    if [[ $t =~ \"$2\":(\"([^\"\\]|\\.)*\"|[^,}]*) ]]; then
        t=${BASH_REMATCH[1]}; t=${t#\"}; echo "${t%\"}"
    fi
}

# need_daxmap SUBCOMMAND: the daxmap binary must exist and know SUBCOMMAND.
need_daxmap() {
    [ -x "$DAXMAP" ] || abort "daxmap binary missing at $DAXMAP (build it: make release, or pass --daxmap)"
    local out
    out=$("$DAXMAP" help "$1" 2>&1)
    if ! printf '%s' "$out" | grep -q "USAGE: daxmap $1" || printf '%s' "$out" | grep -qi 'not yet built'; then
        abort "daxmap $1 not implemented yet in $DAXMAP ('daxmap help $1': $(printf '%s' "$out" | head -n1 | head -c 100))"
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

# Deadlines are wall-clock (guest uptime): under TCG every fork costs ~0.1-0.3 s, so
# counting loop iterations would stretch a timeout several-fold.
uptime_s() { local u _; read -r u _ < /proc/uptime; echo "${u%.*}"; }

# nap SECS: sleep without a fork (read times out on a pipe nobody writes): the poll loops
# below run it every 0.2 s, and a fork and exec of sleep costs 0.1-0.4 s under TCG.
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" _; return 0; }

# wait_for_line FILE PATTERN TIMEOUT: wait until FILE has a line matching PATTERN.
wait_for_line() {
    local f=$1 p=$2 end=$(( $(uptime_s) + $3 ))
    while :; do
        grep -q "$p" "$f" 2>/dev/null && return 0
        [ "$(uptime_s)" -ge $end ] && return 1
        nap 0.2
    done
}

# wait_pid_timeout PID TIMEOUT: wait for PID (a child) up to TIMEOUT s; its status, or 124.
wait_pid_timeout() {
    local pid=$1 end=$(( $(uptime_s) + $2 ))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$(uptime_s)" -ge $end ] && return 124
        nap 0.2
    done
    wait "$pid"
}

# Task facts from /proc/PID/stat, comm and wchan only, read with builtins: ps and pgrep
# read /proc/PID/cmdline, which waits for the process's mmap_lock, and a livelocked kernel
# (7.2's fsdax unbind) leaves daxmap's revoking thread holding it for ever.
# task_state DIR: the state letter of /proc/PID or /proc/PID/task/TID (comm, which may
# hold spaces and parentheses, ends at the last ')'). The braces: a process that exits
# between the test and the read makes the redirection fail, which is not an error here.
task_state() { local s; { read -r s < "$1/stat"; } 2>/dev/null || return 1; s=${s##*) }; echo "${s%% *}"; }
task_wchan() { local w=0; { read -r w < "$1/wchan"; } 2>/dev/null; echo "${w:-0}"; }
task_comm() { local c=?; { read -r c < "$1/comm"; } 2>/dev/null; echo "$c"; }
# proc_state PID: the process state letter (D = uninterruptible).
proc_state() { task_state "/proc/$1"; }
# task_line PID: "state wchan" of PID; task_line_threads PID: its threads, counted by that.
task_line() { echo "$(task_state "/proc/$1") $(task_wchan "/proc/$1")"; }
task_line_threads() {
    local t; for t in /proc/"$1"/task/*; do echo "$(task_state "$t"):$(task_wchan "$t")"; done | sort | uniq -c | while read -r n l; do printf '%sx%s ' "$n" "$l"; done
}
# dstate_list: every task (thread too: a process's main thread may wait in sigsuspend
# while its other threads sit in D) in uninterruptible sleep, as comm(pid/tid,wchan).
dstate_list() {
    local t st p tid
    for t in /proc/[0-9]*/task/[0-9]*; do
        st=$(task_state "$t") || continue
        [ "${st#D}" != "$st" ] || continue
        p=${t#/proc/}; p=${p%%/*}; tid=${t##*/}
        printf '%s(%s%s,%s) ' "$(task_comm "$t")" "$p" "$([ "$p" = "$tid" ] || echo "/$tid")" "$(task_wchan "$t")"
    done
}
# children_of PID: its child processes (from every thread's children list).
children_of() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . ; }
# pids_named COMM: processes whose comm is COMM.
pids_named() { local d; for d in /proc/[0-9]*; do [ "$(task_comm "$d")" = "$1" ] && echo "${d#/proc/}"; done; }

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
wait_path() { local end=$(( $(uptime_s) + $2 )); while [ ! -e "$1" ] && [ "$(uptime_s)" -lt $end ]; do nap 0.2; done; [ -e "$1" ]; }

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

# mount_xfs_dax: XFS (reverse mapping on, which XFS's dax notify_failure needs) on
# $PMEM, mounted dax=always at /tmp/mnt. Sets MNT.
mount_xfs_dax() {
    mkfs.xfs -f -m rmapbt=1 "$PMEM" > "$WORK/mkfs.log" 2>&1 || abort "setup: mkfs.xfs -m rmapbt=1 failed: $(tail -n1 "$WORK/mkfs.log")"
    MNT=/tmp/mnt; mkdir -p $MNT
    mount -o dax=always "$PMEM" $MNT || abort "setup: mount -o dax=always failed"
}

# allocated_file PATH SIZE: a file with its blocks allocated (a hole reads as the zero
# page, which MADV_HWPOISON cannot poison).
allocated_file() {
    python3 -c "import os,sys; f=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT); os.posix_fallocate(f, 0, int(sys.argv[2])); os.close(f)" "$1" "$2"
}

# nd_unbind DEV DRIVER / nd_bind DEV DRIVER (bus nd or dax, from the driver)
drv_unbind() { echo "$1" > "/sys/bus/$3/drivers/$2/unbind"; }
drv_bind() { echo "$1" > "/sys/bus/$3/drivers/$2/bind"; }

# --- the hold / removal / verify workload shared by several scenarios -----------
PLAIN="python3 ${HARNESS:-$(dirname "${BASH_SOURCE[0]}")/..}/scenarios/helpers/plainmap.py"

# start_hold TAG HOLDERS ARGS...: start `daxmap hold` in the background; sets HOLD_PID[TAG].
declare -A HOLD_PID
start_hold() {
    local tag=$1 n=$2; shift 2
    say "daxmap hold $* --holders $n --acked $WORK/acked-$tag.log --json ($tag)"
    "$DAXMAP" hold "$@" --holders "$n" --acked "$WORK/acked-$tag.log" --json --timeout 120 \
        > "$WORK/hold-$tag.json" 2> "$WORK/hold-$tag.err" &
    HOLD_PID[$tag]=$!
}

# wait_ready TAG...: wait (60 s) for READY from each; aborts with the reason when one fails.
wait_ready() {
    local tag
    for tag in "$@"; do
        if ! wait_for_line "$WORK/hold-$tag.err" '^READY' 60; then
            if ! kill -0 "${HOLD_PID[$tag]}" 2>/dev/null; then
                wait "${HOLD_PID[$tag]}"; local rc=$?
                abort "daxmap hold ($tag) exited $rc before READY: $(tail -n 2 "$WORK/hold-$tag.err" | tr '\n' ' ' | head -c 200)"
            fi
            abort "daxmap hold ($tag) never printed READY within 60 s"
        fi
    done
    say "all holders writing: $*"
}

# start_plain TAG PATH [SIZE]: a plain (non-daxmap) writer on PATH, the kernel-side control.
start_plain() {
    $PLAIN write "$2" ${3:-} > "$WORK/plain-$1.log" 2>&1 &
    HOLD_PID[plain-$1]=$!
    wait_for_line "$WORK/plain-$1.log" '^READY' 30 || abort "setup: the plain writer on $2 did not start: $(tail -n1 "$WORK/plain-$1.log")"
}

# check_plain_died TAG WHAT: the plain writer must have been killed by SIGBUS (exit 135).
check_plain_died() {
    local rc
    wait_pid_timeout "${HOLD_PID[plain-$1]}" 20; rc=$?
    fact "plain.exit.plain-$1" "$rc$([ "$rc" -ge 128 ] 2>/dev/null && echo " (SIG$(kill -l $((rc - 128)) 2>/dev/null))") plain mapper beside daxmap (expected SIGBUS)"
    if [ $rc = 135 ]; then ok "kernel: a plain process mapping $2 died of SIGBUS (135) after the removal"
    else fail "kernel: a plain process mapping $2 exited $rc after the removal (expected SIGBUS, 135)"; fi
}

# check_hold TAG HOLDERS SOURCES: after a removal, `daxmap hold` must end by itself,
# exit 0, and report every holder notified, everything released, no descriptor open.
# SOURCES: a python list of accepted removalSource values, e.g. '["uevent"]'. A writer
# that touches the mapping right after the unbind faults (BUS_ADRERR) before the uevent
# is read, so "accessError" may legitimately win the race; the removal uevent must
# still have been seen (removalUEvents), and every holder told to pre-remove exactly once.
check_hold() {
    local tag=$1 n=$2 sources=$3 rc f
    wait_pid_timeout "${HOLD_PID[$tag]}" 60; rc=$?
    f=$WORK/hold-$tag.json
    if [ $rc = 124 ]; then
        local st; st=$(proc_state "${HOLD_PID[$tag]}")
        fail "daxmap hold ($tag) still running 60 s after the removal (state $st; open fds on the device: $(open_fds_on "${HOLD_PID[$tag]}" /dev/))"
        fact "exit.$tag" "still running 60 s after the removal (state $st)"
        kill -9 "${HOLD_PID[$tag]}" 2>/dev/null
        return 1
    fi
    say "hold $tag exit $rc: $(tr '\n' ' ' < "$f" | head -c 600)"
    fact "exit.$tag" "$rc$([ $rc -ge 128 ] && echo " (SIG$(kill -l $((rc - 128)) 2>/dev/null))") daxmap hold"
    fact "removalSource.$tag" "$(json_field "$f" removalSource)"
    cp "$f" "$RESULTS/hold-$tag.json" 2>/dev/null
    cp "$WORK/hold-$tag.err" "$RESULTS/hold-$tag.err" 2>/dev/null
    case $rc in
        0) ok "$tag: daxmap hold exited 0 after the removal" ;;
        135) fail "$tag: daxmap hold died of SIGBUS (exit 135) instead of handling the removal"; return 1 ;;
        12[89]|1[3-9][0-9]) fail "$tag: daxmap hold crashed: signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null)) after the removal: $(grep -v '^READY' "$WORK/hold-$tag.err" | tail -n 1 | head -c 150)"; return 1 ;;
        3) fail "$tag: daxmap hold timed out: it never learned of the removal (exit 3)"; return 1 ;;
        *) fail "$tag: daxmap hold exited $rc: $(grep -v '^READY' "$WORK/hold-$tag.err" | tail -n 2 | tr '\n' ' ' | head -c 200)"; return 1 ;;
    esac
    jchecks "$f" \
        "$tag: every holder notified ($n)" "j['holders'] == $n and j['holdersNotified'] == $n" \
        "$tag: exited gracefully" "j['exitedGracefully'] is True" \
        "$tag: no descriptor left open" "j['descriptorsOpen'] == 0" \
        "$tag: every mapping released or revoked" "j['mappingsReleased'] + j['mappingsRevoked'] >= $n" \
        "$tag: records acknowledged" "j['recordsAcknowledged'] > 0" \
        "$tag: removal learned from $sources" "j['removalSource'] in $sources" \
        "$tag: the removal uevent was seen" "j['removalUEvents'] >= 1" \
        "$tag: one pre-remove notification per holder" "j['holdersPreRemoved'] == $n and j['preRemoveNotifications'] == $n"
}

# check_verify TAG PATH...: every acknowledged record of TAG reads back intact.
check_verify() {
    local tag=$1; shift
    local f=$WORK/verify-$tag rc
    dx "$f" verify "$@" --acked "$WORK/acked-$tag.log" --json; rc=$?
    cp "$f.json" "$RESULTS/verify-$tag.json" 2>/dev/null
    fact "$tag.recordsAcknowledged" "$(json_field "$f.json" recordsAcknowledged)"
    fact "$tag.recordsLost" "$(json_field "$f.json" recordsLost)"
    if [ $rc != 0 ]; then
        fail "$tag: daxmap verify exited $rc: $(tr '\n' ' ' < "$f.json" | head -c 200) $(tail -n 2 "$f.err" | tr '\n' ' ' | head -c 200)"
        return 1
    fi
    jcheck "$tag: every acknowledged record intact after re-bind" "$f.json" \
        "j['recordsLost'] == 0 and j['recordsVerified'] == j['recordsAcknowledged'] > 0"
}

# no_dstate: no task in uninterruptible sleep (D) for 3 s in a row.
no_dstate() {
    local i d
    for i in 1 2 3; do
        d=$(dstate_list)
        [ -z "$d" ] && return 0
        sleep 1
    done
    fail "hung task: in D state: $(echo "$d" | head -c 200)"
    fact dstate "$d"
    return 1
}

# timed NAME SECS CMD...: run CMD with a timeout; a timeout is reported as a hang.
timed() {
    local n=$1 t=$2; shift 2
    timeout "$t" "$@"; local rc=$?
    if [ $rc = 124 ]; then fail "$n: '$*' did not return within ${t}s (hung)"; fi
    return $rc
}

# devdax_removal METHOD DAXDEV NS: holders on DAXDEV, remove it by METHOD
# (device_dax | namespace | dax_pmem | daxctl | kmem: reconfigure-device --mode=system-ram
# --no-online | kmem-force: the same with -f, onlined), check daxmap's side and the kernel's,
# restore the device and verify every acknowledged record.
devdax_removal() {
    local m=$1 dev=$2 ns=$3 name; name=$(basename "$dev")
    local tag=devdax-$m holders=4
    # The holder process stays alive across the re-bind: its descriptors must be closed
    # (or the kernel's refcount underflows) and its old mappings must stay dead.
    start_hold "$tag" $holders "$dev" --await-return 60
    wait_ready "$tag"
    start_plain "$tag" "$dev"
    sleep 1
    kmark "$tag"
    say "removing $name by $m"
    case $m in
        device_dax) timed "$tag: unbind" 30 sh -c "echo $name > /sys/bus/dax/drivers/device_dax/unbind" ;;
        namespace)  timed "$tag: ndctl disable-namespace" 30 ndctl disable-namespace "$ns" ;;
        dax_pmem)   timed "$tag: unbind" 30 sh -c "echo ${name%%.*}.${name##*.} > /sys/bus/nd/drivers/dax_pmem/unbind" ;;
        daxctl)     timed "$tag: daxctl disable-device" 30 daxctl disable-device "$name" ;;
        kmem)       timed "$tag: daxctl reconfigure-device --mode=system-ram --no-online" 30 daxctl reconfigure-device --mode=system-ram --no-online "$name" > "$WORK/$tag.out" 2>&1 ;;
        kmem-force) timed "$tag: daxctl reconfigure-device -f --mode=system-ram" 30 daxctl reconfigure-device -f --mode=system-ram "$name" > "$WORK/$tag.out" 2>&1 ;;
    esac || { fail "$tag: removal by $m failed: $(tail -n 2 "$WORK/$tag.out" 2>/dev/null | tr '\n' ' ')"; fact "removal.$tag" "failed or stuck"; return 1; }
    fact "removal.$tag" returned
    ok "$tag: removal by $m returned (it does not wait for holders)"
    check_plain_died "$tag" "$dev"
    if wait_for_line "$WORK/hold-$tag.err" '^REMOVED' 30; then
        ok "$tag: daxmap handled the removal and lives on"
    else
        fail "$tag: daxmap hold did not report the removal within 30 s"
    fi
    local sig; sig=$(dmesg_since "$tag" | grep -c 'Sending SIGBUS' || true)
    say "kernel: $sig 'Sending SIGBUS' messages after the removal"
    # A scenario's own checks while the device is away (kmem-reconfigure: system-ram mode).
    if declare -F while_removed > /dev/null; then while_removed "$tag" "$dev" "$m"; fi
    # Restore while the holder process is still alive (its descriptor closed by the removal).
    case $m in
        device_dax) drv_bind "$name" device_dax dax ;;
        namespace)  ndctl enable-namespace "$ns" > /dev/null ;;
        dax_pmem)   drv_bind "${name%%.*}.${name##*.}" dax_pmem nd ;;
        daxctl)     daxctl enable-device "$name" > /dev/null ;;
        kmem)       daxctl reconfigure-device --mode=devdax "$name" > /dev/null ;;            # never onlined
        kmem-force) daxctl reconfigure-device -f --mode=devdax "$name" > /dev/null ;;   # -f offlines the memory first
    esac || { fail "$tag: cannot restore $dev after $m"; return 1; }
    wait_path "$dev" 10 || { fail "$tag: $dev did not come back"; return 1; }
    check_hold "$tag" $holders '["uevent", "accessError", "sysfs"]'
    jchecks "$WORK/hold-$tag.json" \
        "$tag: the device came back to the living process" "j['devicesBack'] == 1" \
        "$tag: old mappings did not come back to life" "j['oldMappingsAlive'] == 0"
    # A removal that may destroy the contents (kmem onlining the memory) has them checked by the scenario.
    if declare -F check_records > /dev/null; then check_records "$tag" "$dev" "$m"; return; fi
    jcheck "$tag: reopen in the same process reads the records" "$WORK/hold-$tag.json" "j['reopenedRecordsIntact'] == 1"
    check_verify "$tag" "$dev"
}
