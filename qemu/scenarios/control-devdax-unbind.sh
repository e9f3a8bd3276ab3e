#!/bin/bash
# Control for devdax-unbind: device_dax unbind, then ndctl disable-namespace, under
# plain processes (no daxmap).
. "$HARNESS/scenarios/control-lib.sh"
control_devdax namespace0.0
