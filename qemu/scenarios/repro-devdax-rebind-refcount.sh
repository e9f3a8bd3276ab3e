#!/bin/bash
# scenario: machine=nvdimm role=reproducer order=130
# checks: reproducer: a plain unbind + bind (the device must reopen), then a descriptor whose mapping is unmapped after the unbind, then a bare descriptor (`sleep 600 < /dev/dax0.0`) across `device_dax` unbind and bind and its close: REPRODUCED (warning/oops/error) on a `refcount_t`/`WARNING`/oops or a re-bound device that does not open
# Reproducer (plain processes, no daxmap): a process keeps a descriptor of /dev/daxX.Y open
# across an unbind and re-bind of device_dax. In one VM: (0) a plain unbind + bind, after
# which the device must open (the control); (1) a descriptor whose mapping was touched,
# unmapped after the unbind and closed after the re-bind; (2) a bare descriptor (shell
# redirection) held across unbind + bind, then closed. Seen (2026-12-01) on 6.1, 6.12 and
# 7.2 at step 2: "refcount_t: underflow; use-after-free", and the re-bound device no longer
# opens (ENXIO). Reproduced = a refcount_t/WARNING/oops, or a re-bound device that does
# not open, after a step's re-bind or close.
. "$HARNESS/scenarios/control-lib.sh"
load_modules
step "ndctl create-namespace -f -e namespace0.0 -m devdax --align=2M"
make_devdax namespace0.0
name=$(basename "$DAXDEV")
signature 'refcount_t|WARNING: |BUG: |Oops: '
unbind_bind() {
    step "echo $name > /sys/bus/dax/drivers/device_dax/unbind"
    timed "unbind" 30 sh -c "echo $name > /sys/bus/dax/drivers/device_dax/unbind" || { inconclusive "the unbind failed or hung"; hard_stop "reproducer done"; }
    [ -n "${1:-}" ] && { step "$1"; $2; }
    step "echo $name > /sys/bus/dax/drivers/device_dax/bind"
    timed "re-bind" 30 sh -c "echo $name > /sys/bus/dax/drivers/device_dax/bind" || { inconclusive "the re-bind failed or hung"; hard_stop "reproducer done"; }
    wait_path "$DAXDEV" 10
    sleep 1
}
# judge WHAT: a warning or oops since the mark repro-WHAT?
judge() {
    local w o
    w=$(dmesg_since "repro-$1" | grep -m1 -E 'refcount_t|WARNING: ' | sed -E 's/^\[ *[0-9.]+\] //')
    o=$(new_oops_since "repro-$1")
    if [ -n "$o" ]; then reproduced oops "$2: ${w:+$w; then }$o"; hard_stop "reproducer done"
    elif [ -n "$w" ]; then reproduced warning "$2: $w"; hard_stop "reproducer done"; fi
}
# reopen WHAT: the re-bound device must open again; ENXIO and the like are the defect too.
reopen() {
    local err
    err=$(timeout 10 python3 -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_RDWR))' "$DAXDEV" 2>&1 | tail -n1) && return 0
    reproduced error "$1: the re-bound $DAXDEV cannot be opened: $err"
    hard_stop "reproducer done"
}
# 0. Without a descriptor across it, unbind + bind gives a device that opens.
kmark repro-none
unbind_bind
timeout 10 python3 -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_RDWR))' "$DAXDEV" 2>"$WORK/open0.err" ||
    abort "setup: $DAXDEV does not open after a plain unbind + bind: $(tail -n1 "$WORK/open0.err")"
fact plainRebind "reopens"
# 1. A descriptor whose mapping was touched, unmapped after the unbind, closed after the re-bind.
kmark repro-map
step "PLAINMAP_KEEP_FD=1 python3 plainmap.py hold $DAXDEV 8388608 &   (MAP_SHARED, one store per page, idle)"
PLAINMAP_KEEP_FD=1 $PLAIN hold "$DAXDEV" $((8 << 20)) > "$WORK/held.log" 2>&1 & held=$!
wait_for_line "$WORK/held.log" '^READY' 30 || abort "setup: the mapping did not start: $(tail -n1 "$WORK/held.log")"
unmap() { kill -USR1 "$held"; wait_for_line "$WORK/held.log" '^unmapped' 15; }
unbind_bind "kill -USR1 the mapper: munmap after the unbind, the descriptor kept" unmap
step "kill -USR2 the mapper: it closes the descriptor after the re-bind"
kill -USR2 "$held"; wait_for_line "$WORK/held.log" '^closed' 15; sleep 2
what="re-bind with a descriptor open whose mapping was unmapped after the unbind, then its close"
judge map "$what"; reopen "$what"
# 2. A bare descriptor.
kmark repro-fd
step "sleep 600 < $DAXDEV &   (a descriptor open, nothing mapped)"
sleep 600 < "$DAXDEV" & holder=$!
sleep 0.5
unbind_bind
step "kill the sleeper (its descriptor is closed)"
kill "$holder"; wait "$holder" 2>/dev/null; sleep 2
what="re-bind with a bare descriptor open, then its close"
judge fd "$what"; reopen "$what"
not_reproduced "re-bind with a descriptor open (with a mapping unmapped after the unbind, and bare), then its close: no warning, no oops, the device reopens"
hard_stop "reproducer done"
