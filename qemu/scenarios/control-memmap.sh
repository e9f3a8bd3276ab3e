#!/bin/bash
# checks: on the memmap machine's legacy pmem: plain store loops and a reader, `device_dax` unbind then `ndctl disable-namespace`, a sentinel checked after each restore (run by default with their scenario; `RUNS=` chooses)
# Control for memmap: legacy pmem (memmap=512M!2G) as devdax, then control-devdax-unbind's
# removals under plain processes (no daxmap).
. "$HARNESS/scenarios/control-lib.sh"
load_modules
wait_path /dev/pmem0 10 || abort "setup: memmap=512M!2G gave no /dev/pmem0"
ns=$(ndctl list -N | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]; print(d[0]["dev"])' 2>/dev/null)
[ -n "$ns" ] || abort "setup: no namespace on the memmap region"
control_devdax "$ns"
