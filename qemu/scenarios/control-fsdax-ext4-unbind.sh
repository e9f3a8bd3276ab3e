#!/bin/bash
# Control for fsdax-ext4-unbind: the same unbind under plain processes (no daxmap).
. "$HARNESS/scenarios/control-lib.sh"
control_fsdax ext4
