#!/bin/bash
# scenario: machine=nvdimm2 order=50
# checks: `daxmap poison` on dax0.0 (region0) and on a file on XFS dax (region1): caught mediaFailure, offset/length from si_addr_lsb (21 devdax, 12 fsdax), only the holder of that range notified, exit 0; dmesg shows "recovery action for dax page: Recovered"
# Scenario 5: MADV_HWPOISON on one page of a devdax mapping (region0 -> dax0.0) and of
# an fsdax file (region1 -> pmem1, XFS dax=always). A guarded read throws a media failure
# with the device offset and length from si_addr_lsb (devdax 21, fsdax XFS 12); only the
# holder of that range is notified; the process lives.
. "$HARNESS/scenarios/lib.sh"
load_modules
make_devdax namespace0.0
DEV=$DAXDEV
make_fsdax namespace1.0
mount_xfs_dax
FILE=$MNT/poisoned; FSIZE=$((16 << 20))
allocated_file "$FILE" $FSIZE
need_daxmap poison
HOLDERS=4

# poison_case TAG PATH OFFSET SIZE ALIGN LSB
poison_case() {
    local tag=$1 path=$2 off=$3 size=$4 align=$5 lsb=$6 rc
    local slice=$(( size / HOLDERS / align * align ))
    local holder=$(( off / slice )) len=$(( 1 << lsb ))
    local eoff=$(( off / len * len ))
    kmark "poison-$tag"
    dx "$WORK/poison-$tag" poison "$path" --offset "$off" --holders $HOLDERS --json; rc=$?
    cp "$WORK/poison-$tag.json" "$RESULTS/poison-$tag.json" 2>/dev/null
    case $rc in
        0) ok "$tag: process lives after the poisoned read (exit 0)" ;;
        4) fail "$tag: MADV_HWPOISON refused ({\"supported\":false}): $(head -c 200 "$WORK/poison-$tag.json")"; return ;;
        135|138) fail "$tag: daxmap poison died of SIGBUS (exit $rc)"; return ;;
        *) fail "$tag: daxmap poison exited $rc: $(head -c 200 "$WORK/poison-$tag.json" | tr '\n' ' ') $(tail -n 2 "$WORK/poison-$tag.err" | tr '\n' ' ' | head -c 150)"; return ;;
    esac
    jchecks "$WORK/poison-$tag.json" \
        "$tag: guarded read threw mediaFailure" "j['caught'] is True and j['code'] == 'mediaFailure'" \
        "$tag: offset $eoff length $len (si_addr_lsb $lsb)" "j['addrLsb'] == $lsb and j['offset'] == $eoff and j['length'] == $len" \
        "$tag: only holder $holder (of $HOLDERS) notified" "j['holdersNotified'] == [$holder]"
    if dmesg_since "poison-$tag" | grep -q 'Memory failure: .*recovery action for dax page: Recovered'; then
        ok "kernel: memory failure on a dax page, recovered ($tag)"
    else
        fail "kernel: no 'recovery action for dax page: Recovered' after MADV_HWPOISON ($tag)"
    fi
}
DSIZE=$(cat /sys/bus/dax/devices/$(basename "$DEV")/size)
# A page inside holder 2's slice of the device, not at a 2 MiB boundary.
DSLICE=$(( DSIZE / HOLDERS / (2 << 20) * (2 << 20) ))
poison_case devdax "$DEV" $(( 2 * DSLICE + (6 << 20) + 12288 )) "$DSIZE" $((2 << 20)) 21
FALIGN=4096
poison_case fsdax "$FILE" $(( FSIZE / HOLDERS + 5 * 4096 )) "$FSIZE" $FALIGN 12

# log_poison_case TAG PATH OFFSET LSB: DaxLog over the first 8 MiB of PATH, poison at OFFSET.
log_poison_case() {
    local tag=$1 path=$2 off=$3 rc len=$(( 1 << $4 ))
    local eoff=$(( off / len * len ))
    kmark "log-poison-$tag"
    dx "$WORK/log-poison-$tag" poison "$path" --offset "$off" --log --force --json; rc=$?
    cp "$WORK/log-poison-$tag.json" "$RESULTS/log-poison-$tag.json" 2>/dev/null
    case $rc in
        0|1) [ $rc = 0 ] && ok "$tag log: process lives, the check passed (exit 0)" ;;
        4) fail "$tag log: MADV_HWPOISON refused: $(head -c 200 "$WORK/log-poison-$tag.json")"; return ;;
        135|138) fail "$tag log: daxmap poison --log died of SIGBUS (exit $rc)"; return ;;
        *) fail "$tag log: daxmap poison --log exited $rc: $(tail -n 2 "$WORK/log-poison-$tag.err" | tr '\n' ' ' | head -c 200)"; return ;;
    esac
    jchecks "$WORK/log-poison-$tag.json" \
        "$tag log: told of the failed extent [$eoff, +$len)" "j['logTold'] is True and j['failedOffset'] == $eoff and j['failedLength'] == $len" \
        "$tag log: the records the failed extent hit are lost, by sequence number" "len(j['lost']) > 0 and j['lost'] == j['expectedLost']" \
        "$tag log: every other record reads back intact, none unaccounted" \
            "j['intact'] is True and j['unaccounted'] == [] and j['returned'] + len(j['lost']) == j['appended']" \
        "$tag log: appends go on after the failure" "j['appendedAfter'] == 8"
}
# Past the first 2 MiB extent (the log header stays clean), clear of the pages poisoned above.
log_poison_case devdax "$DEV" $(( (3 << 20) + 12288 )) 21
LFILE=$MNT/poisoned-log
allocated_file "$LFILE" $((16 << 20))
log_poison_case fsdax "$LFILE" $(( (3 << 20) + 12288 )) 12
umount $MNT 2>/dev/null
finish
