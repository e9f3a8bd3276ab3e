#!/bin/bash
# checks: plain store loops and a reader, `device_dax` unbind then `ndctl disable-namespace`, a sentinel checked after each restore (run by default with their scenario; `RUNS=` chooses)
# Control for devdax-unbind: device_dax unbind, then ndctl disable-namespace, under
# plain processes (no daxmap).
. "$HARNESS/scenarios/control-lib.sh"
control_devdax namespace0.0
