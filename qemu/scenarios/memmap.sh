#!/bin/bash
# scenario: machine=memmap control=yes order=60
# checks: `memmap=512M!2G` -> legacy /dev/pmem0 -> devdax; then devdax-unbind's checks
# Scenario 6: legacy pmem from memmap=512M!2G (nd_e820), converted to devdax;
# then scenario 2 on it.
. "$HARNESS/scenarios/lib.sh"
load_modules
check "kernel: memmap=512M!2G gives a legacy /dev/pmem0" wait_path /dev/pmem0 10
grep -q 'memmap=512M!2G' /proc/cmdline || abort "setup: not booted with memmap=512M!2G"
ns=$(ndctl list -N | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]; print(d[0]["dev"])' 2>/dev/null)
[ -n "$ns" ] || abort "setup: no namespace on the memmap region: $(ndctl list -N 2>&1 | head -c 200)"
make_devdax "$ns"
need_daxmap hold
devdax_removal device_dax "$DAXDEV" "$ns"
devdax_removal namespace "$DAXDEV" "$ns"
finish
