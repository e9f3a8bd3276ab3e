#!/bin/bash
# scenario: machine=nvdimm control=yes order=20
# checks: 4 holders on /dev/dax0.0; removal by `device_dax` unbind, then by `ndctl disable-namespace`; hold exits 0, all holders notified, `removalSource` = `uevent`, nothing left open, all mappings released/revoked; the plain process dies 135; after re-bind `daxmap verify` finds every acknowledged record
# Scenario 2: several holders with writers on /dev/dax0.0; the device is removed
# (device_dax unbind, then ndctl disable-namespace); daxmap learns of it from uevents,
# notifies every holder, writers get a thrown error, the process exits 0 with no
# descriptor open; after re-bind every acknowledged record reads back intact.
. "$HARNESS/scenarios/lib.sh"
load_modules
make_devdax namespace0.0
need_daxmap hold
devdax_removal device_dax "$DAXDEV" namespace0.0
devdax_removal namespace "$DAXDEV" namespace0.0
finish
