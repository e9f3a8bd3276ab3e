#!/usr/bin/env bash
# Host test of run_vm's watchdogs (qemu/lib/vm.sh) with a made-up qemu: a script that
# writes a console and the results share as a guest would, then hangs or ends. A
# watchdog that never fires costs CI the whole VM timeout; one that fires on a guest
# still at work cuts a control short. Run by `make test`; prints one line per case.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/vm.sh"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
failures=0

# The made-up qemu: FAKE_GUEST says what the guest does once "booted".
cat > "$dir/qemu" <<'EOF'
#!/usr/bin/env bash
console= share=
for a in "$@"; do
    case $a in
        file:*) console=${a#file:} ;;
        local,path=*mount_tag=results*) share=${a#local,path=}; share=${share%%,*} ;;
    esac
done
printf 'DAXMAP-INIT: chroot ready\nDAXMAP-GUEST: start fake\n' >> "$console"
case $FAKE_GUEST in
    wedged)  # a soft lockup, then silence
        echo 'fact x=1' >> "$share/scenario.log"
        echo '[ 69.1] watchdog: BUG: soft lockup - CPU#1 stuck for 45s! [python3:230]' >> "$console"
        exec sleep 60 ;;  # exec: the watchdog's TERM reaches the sleep itself
    working) # a soft lockup, but the scenario goes on writing, then ends
        echo '[ 69.1] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kdamond.0:52]' >> "$console"
        for i in 1 2 3 4 5 6; do echo "step $i" >> "$share/scenario.log"; sleep 1; done ;;
esac
echo 'DAXMAP-INIT: poweroff (done)' >> "$console"
EOF
chmod +x "$dir/qemu"

HARNESS_DIR=$here/.. REPO=$here/../.. DAXMAP=/bin/true KERNEL_IMAGE=/dev/null INITRAMFS=/dev/null
GUEST_SHELL=0 VERBOSE=0 KEEP=0 VM_TIMEOUT=60 QEMU_BIN=$dir/qemu WEDGE_TIMEOUT=3

# case NAME GUEST WANT_STOPPED MAX_SECONDS
case_() {
    local name=$1 t0=$SECONDS stopped=no took
    FAKE_GUEST=$2 run_vm fake memmap "$dir/$name"
    took=$((SECONDS - t0))
    grep -q '^vm.stopped=' "$dir/$name/share/facts.txt" 2>/dev/null && stopped=yes
    if [ "$stopped" = "$3" ] && [ "$took" -le "$4" ]; then
        echo "ok   $name: stopped $stopped after ${took}s (qemu exit $VM_RC)"
    else
        echo "FAIL $name: want stopped $3 within $4 s, got stopped $stopped after ${took}s (qemu exit $VM_RC)"
        failures=$((failures + 1))
    fi
}
export FAKE_GUEST
case_ wedged-guest-is-stopped wedged yes 15
case_ working-guest-runs-on working no 20
[ "$failures" = 0 ] || { echo "$failures run_vm watchdog case(s) failed"; exit 1; }
