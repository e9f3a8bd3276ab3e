#!/bin/bash
# Reproducer (plain processes, no daxmap): a process keeps a descriptor of /dev/daxX.Y open
# (no mapping) while device_dax is unbound and bound again. Seen on 6.12: the re-bind
# underflows a refcount (refcount_t warning), and the close later oopses (cd_forget).
# Reproduced = a refcount_t/WARNING/oops after the re-bind or the close.
. "$HARNESS/scenarios/control-lib.sh"
load_modules
step "ndctl create-namespace -f -e namespace0.0 -m devdax --align=2M"
make_devdax namespace0.0
name=$(basename "$DAXDEV")
step "sleep 600 < $DAXDEV &   (a descriptor open, nothing mapped)"
sleep 600 < "$DAXDEV" & holder=$!
sleep 0.5
signature 'refcount_t|WARNING: |BUG: |Oops: '
kmark repro
step "echo $name > /sys/bus/dax/drivers/device_dax/unbind"
timed "unbind" 30 sh -c "echo $name > /sys/bus/dax/drivers/device_dax/unbind" || { inconclusive "the unbind failed or hung"; hard_stop "reproducer done"; }
step "echo $name > /sys/bus/dax/drivers/device_dax/bind"
timed "re-bind" 30 sh -c "echo $name > /sys/bus/dax/drivers/device_dax/bind" || { inconclusive "the re-bind failed or hung"; hard_stop "reproducer done"; }
sleep 1
step "kill the sleeper (its descriptor is closed)"
kill "$holder"; wait "$holder" 2>/dev/null
sleep 2
w=$(dmesg_since repro | grep -m1 -E 'refcount_t|WARNING: ' | sed -E 's/^\[ *[0-9.]+\] //')
o=$(new_oops_since repro)
if [ -n "$o" ]; then reproduced oops "re-bind with a descriptor open: ${w:+$w; then }$o"
elif [ -n "$w" ]; then reproduced warning "re-bind with a descriptor open: $w"
else not_reproduced "re-bind with a descriptor open and its close: no warning, no oops"; fi
hard_stop "reproducer done"
