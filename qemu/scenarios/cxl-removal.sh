#!/bin/bash
# CXL removal under holders: 4 holders with writers on the devdax of a CXL pmem region,
# removed by `ndctl disable-namespace`, then `cxl disable-region` (each brought back while
# the holder process lives: old mappings dead, every record verified), then a planned
# removal (`daxmap retire --then disable`: 0 fault signals, no SIGBUS), then
# `cxl destroy-region`. Every hold exits 0 with every holder notified; a plain mapper
# beside them dies of SIGBUS.
. "$HARNESS/scenarios/lib.sh"
. "$HARNESS/scenarios/cxl-lib.sh"
cxl_setup
need_daxmap hold
cxl_removal namespace
cxl_removal region
need_daxmap retire
cxl_retire
cxl_removal destroy
no_dstate
finish
