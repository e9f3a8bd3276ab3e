#!/bin/bash
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
