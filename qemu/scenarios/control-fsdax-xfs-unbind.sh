#!/bin/bash
# Control for fsdax-xfs-unbind: the same unbind under plain processes (no daxmap).
. "$HARNESS/scenarios/control-lib.sh"
control_fsdax xfs
