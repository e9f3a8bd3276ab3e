#!/bin/bash
# scenario: machine=nvdimm role=manual order=900
# checks: plumbing only (not in the default list)
# Plumbing only: the chroot works, the NVDIMM is visible, devdax can be created,
# results come back to the host.
. "$HARNESS/scenarios/lib.sh"
load_modules
check "chroot: host tools visible" test -x /usr/bin/ndctl
ndctl list -R > "$WORK/regions.json" 2>&1
check "nvdimm region visible" grep -q '"dev":"region0"' "$WORK/regions.json"
make_devdax namespace0.0
check "devdax node" test -c "$DAXDEV"
daxctl list -R -D | tee "$RESULTS/daxctl-list.json"
if [ -x "$DAXMAP" ]; then
    "$DAXMAP" --help > /dev/null 2>&1; echo "daxmap --help exit $?"
    check "swift runtime loads in the guest" bash -c "'$DAXMAP' --help >/dev/null 2>&1 || '$DAXMAP' list --json"
fi
finish
