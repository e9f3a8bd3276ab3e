#!/bin/bash
# scenario: machine=cxl series=6.12,7.2 order=100
# checks: 4 holders writing on the CXL devdax and a plain mapper beside them, removed by `ndctl disable-namespace`, then by `cxl disable-region` (the nd region and all on it go), each restored (`enable-namespace`, `enable-region`: the namespace comes back from the label area) while the holder process lives: hold exits 0, every holder notified once, nothing left open, old mappings dead, a reopen reads the records, `verify` finds every one; the plain mapper dies 135; then `daxmap retire --then disable` (0 fault signals, no SIGBUS from the kernel, `daxctl enable-device`, verify); then `cxl destroy-region -f` under holders: hold exits 0, the region is gone
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
