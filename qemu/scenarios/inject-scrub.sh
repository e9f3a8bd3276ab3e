#!/bin/bash
# scenario: machine=nvdimm2 order=70
# checks: scrub and clear on real devices: `daxmap scrub --hwpoison` `MADV_HWPOISON`s one page of /dev/dax0.0 (region0) and of a file on XFS dax=always (region1) and finds it with the extent from si_addr_lsb (21 devdax, 12 fsdax), exit 2; `--clear`: on the DAX file punch + reallocate, then a fresh scrub is clean; on device-dax the bus's clear-error (refused clearly where qemu's NFIT has no ARS, exit 3); `ndctl inject-error` tried where the emulated NVDIMM supports it (said when not)
# Scenario: scrub and clear on real devices (issue 12). MADV_HWPOISON one page of
# /dev/dax0.0 (region0) and of a file on XFS dax=always (region1) from the scrubbing
# process (`daxmap scrub --hwpoison`: the kernel "recovers" software poison of dax pages,
# which then read fine in a fresh mapping, so only the process the kernel signalled can
# find it); the scrub finds it with the extent from si_addr_lsb (21 devdax, 12 fsdax),
# exit 2. --clear: on the DAX file punch + reallocate, then a fresh scrub is clean; on
# device-dax the bus's clear-error (refused clearly where qemu's NFIT has no ARS, exit 3).
# `ndctl inject-error` is tried where the emulated NVDIMM supports it (said when not).
. "$HARNESS/scenarios/lib.sh"
load_modules
make_devdax namespace0.0
DEV=$DAXDEV
make_fsdax namespace1.0
mount_xfs_dax
FILE=$MNT/scrubbed; FSIZE=$((16 << 20))
allocated_file "$FILE" $FSIZE
need_daxmap scrub

# scrub_case TAG PATH OFFSET LSB: poison OFFSET from the scrubbing process, expect it found.
scrub_case() {
    local tag=$1 path=$2 off=$3 lsb=$4 rc len=$(( 1 << $4 ))
    local eoff=$(( off / len * len ))
    kmark "scrub-$tag"
    dx "$WORK/scrub-$tag" scrub "$path" --hwpoison "$off" --json; rc=$?
    cp "$WORK/scrub-$tag.json" "$RESULTS/scrub-$tag.json" 2>/dev/null
    case $rc in
        2) ok "$tag: scrub found failures and the process lives (exit 2)" ;;
        4) fail "$tag: MADV_HWPOISON refused: $(tail -n1 "$WORK/scrub-$tag.err")"; return 1 ;;
        135|138) fail "$tag: daxmap scrub died of SIGBUS (exit $rc)"; return 1 ;;
        *) fail "$tag: daxmap scrub $(dx_reason "$WORK/scrub-$tag" $rc)"; return 1 ;;
    esac
    jchecks "$WORK/scrub-$tag.json" \
        "$tag: the poisoned extent [$eoff, +$len) is a failed range (poison)" \
            "any(r['kind'] == 'poison' and r['offset'] <= $eoff and r['offset'] + r['length'] >= $eoff + $len for r in j['failedRanges'])" \
        "$tag: bytesScanned is the whole device" "j['bytesScanned'] == j['length']" \
        "$tag: nothing cleared without --clear" "j['cleared'] == [] and j['clearError'] is None"
}

DSIZE=$(cat /sys/bus/dax/devices/$(basename "$DEV")/size)
DOFF=$(( (DSIZE / 2) + (6 << 20) + 12288 ))
if scrub_case devdax "$DEV" $DOFF 21; then
    # Another page: a page poisoned twice is not signalled twice.
    dx "$WORK/clear-devdax" scrub "$DEV" --hwpoison $(( DOFF + (4 << 20) )) --clear --json; rc=$?
    cp "$WORK/clear-devdax.json" "$RESULTS/clear-devdax.json" 2>/dev/null
    if [ $rc = 3 ] && json "$WORK/clear-devdax.json" "j['clearError']" | grep -q "no ARS clear-error"; then
        ok "devdax: --clear refused clearly (exit 3): $(json "$WORK/clear-devdax.json" "j['clearError']" | head -c 160)"
        known "device-dax clear: qemu's emulated NVDIMM bus has no ARS clear-error command"
    elif [ $rc = 2 ]; then
        jcheck "devdax: --clear cleared the poisoned extent" "$WORK/clear-devdax.json" "len(j['cleared']) > 0"
    else
        fail "devdax: scrub --clear $(dx_reason "$WORK/clear-devdax" $rc)"
    fi
fi

FOFF=$(( FSIZE / 4 + 5 * 4096 ))
if scrub_case fsdax "$FILE" $FOFF 12; then
    FOFF2=$(( FOFF + 8 * 4096 ))
    dx "$WORK/clear-fsdax" scrub "$FILE" --hwpoison $FOFF2 --clear --json; rc=$?
    cp "$WORK/clear-fsdax.json" "$RESULTS/clear-fsdax.json" 2>/dev/null
    if [ $rc = 2 ]; then
        jcheck "fsdax: --clear punched and reallocated the page" "$WORK/clear-fsdax.json" \
            "any(r['offset'] <= $FOFF2 < r['offset'] + r['length'] for r in j['cleared']) and j['clearError'] is None"
    else
        fail "fsdax: scrub --clear $(dx_reason "$WORK/clear-fsdax" $rc)"
    fi
    dx "$WORK/rescrub-fsdax" scrub "$FILE" --json; rc=$?
    if [ $rc = 0 ]; then ok "fsdax: a fresh scrub after the clear finds nothing (exit 0)"
    else fail "fsdax: re-scrub after clear $(dx_reason "$WORK/rescrub-fsdax" $rc)"; fi
fi
umount $MNT 2>/dev/null

# ndctl inject-error: ACPI error injection through the bus (nfit_test, real platforms).
NS0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dev"])' "$WORK/create-namespace0.0.json")
if ndctl inject-error --block=8192 --count=1 "$NS0" > "$WORK/inject-error.log" 2>&1; then
    ok "ndctl inject-error accepted on $NS0"
    dx "$WORK/scrub-injected" scrub "$DEV" --json; rc=$?
    cp "$WORK/scrub-injected.json" "$RESULTS/scrub-injected.json" 2>/dev/null
    if [ $rc = 2 ]; then ok "devdax: scrub found the ndctl-injected error (exit 2)"
    else fail "devdax: scrub after ndctl inject-error $(dx_reason "$WORK/scrub-injected" $rc)"; fi
    ndctl inject-error --uninject --block=8192 --count=1 "$NS0" > /dev/null 2>&1
else
    known "ndctl inject-error is not supported by qemu's emulated NVDIMM ($(tail -n1 "$WORK/inject-error.log" | head -c 120))"
fi
finish
