#!/usr/bin/env bash
# Host test of the verdict rules (qemu/lib/verdict.sh) on made-up consoles and result
# files: a wrong verdict here turns a kernel's defect into a daxmap failure in CI, or
# worse, a daxmap failure into a pass. Run by `make test`; prints one line per case.
set -uo pipefail
. "$(dirname "$0")/verdict.sh"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
failures=0

# case NAME WANT CONSOLE_LINES RESULT_LINES: WANT is the verdict's first word.
case_() {
    local name=$1 want=$2 out got
    printf '%b' "$3" > "$dir/console"
    printf '%b' "$4" > "$dir/result"
    out=$(verdict "$name" "$dir/console" "$dir/result" 0 10); got=${out%% *}
    if [ "$got" = "$want" ]; then echo "ok   $name: $out"
    else echo "FAIL $name: want $want, got: $out"; failures=$((failures + 1)); fi
}

boot='DAXMAP-INIT: chroot ready\n'
oops_zap='[ 63.41] BUG: unable to handle page fault for address: ff98\n[ 63.42] RIP: 0010:__zap_vma_range+0x6e2/0x19f0\n'
oops_other='[ 63.41] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[ 63.42] RIP: 0010:daxmap_made_up+0x10/0x20\n'
hung='[ 103.3] INFO: task oot.default-qos:197 blocked for more than 20 seconds.\n'
zap_re='RIP: [0-9a-f]+:(__zap_vma_range|zap_huge_pmd|vm_normal_folio_pmd)\\+'

case_ pass PASS "$boot" 'ok a\nend\nrc 0\n'
case_ failed-check FAIL "$boot" 'fail a: no\nend\nrc 0\n'
case_ no-end FAIL "$boot" 'ok a\nrc 1\n'
case_ oops FAIL "$boot$oops_other" 'ok a\nend\n'
# A defect whose REGEX holds alternatives: any alternative on the console names it.
case_ defect-alternation KNOWN "$boot${hung}[ 110] mf_dax_kill_procs+0x1/0x2\n" \
    "defect dax_lock_mapping_entry|mf_dax_kill_procs|the unbind never returns\nend\n"
case_ defect-absent FAIL "$boot$hung" "defect dax_lock_mapping_entry|mf_dax_kill_procs|the unbind never returns\nend\n"
# A hazard names only an oops that matches it; an oops elsewhere stays a failure.
case_ hazard-hit KNOWN "$boot$oops_zap" "hazard $zap_re|zap after the unbind\nok a\n"
case_ hazard-other-oops FAIL "$boot$oops_other" "hazard $zap_re|zap after the unbind\nok a\nend\n"
case_ hazard-no-oops PASS "$boot" "hazard $zap_re|zap after the unbind\nok a\nend\nrc 0\n"
case_ hazard-no-oops-failed FAIL "$boot" "hazard $zap_re|zap after the unbind\nfail a: no\nend\n"
case_ expect-oops KNOWN "$boot[ 9] BUG: unable to handle page fault\n[ 9] RIP: 0010:dax_disassociate_entry+0x1/0x2\n" \
    "ok a\nexpect-oops dax_disassociate_entry|umount oopses\nend\n"
case_ skip SKIP "$boot" 'skip no CXL\n'
# ext4's unbind defect on 7.2, as fsdax-ext4-unbind names it: an exit of a holder that
# stops in the folio batch free (seen in CI) is the same defect as a munmap in the zap.
eval "$(grep -m1 '^EXT4_UNBIND_ZAP_FUNCS=' "$(dirname "$0")/../scenarios/lib.sh")"
ext4_re="RIP: [0-9a-f]+:($EXT4_UNBIND_ZAP_FUNCS)\\+"
oops_batch='[ 81.2] BUG: unable to handle page fault for address: ff88755584\n[ 81.2] RIP: 0010:folios_put_refs+0x9d/0x270\n'
case_ ext4-hazard-exit KNOWN "$boot$oops_batch" "hazard $ext4_re|ext4 unbind frees struct pages\nok a\n"
case_ ext4-hazard-munmap KNOWN "$boot$oops_zap" "hazard $ext4_re|ext4 unbind frees struct pages\nok a\n"
case_ ext4-hazard-other FAIL "$boot$oops_other" "hazard $ext4_re|ext4 unbind frees struct pages\nok a\nend\n"

# Reproducers: the guest's conclusion is the verdict; no conclusion is a failure.
rcase() {
    local name=$1 want=$2 out got
    printf '%b' "$3" > "$dir/console"; printf '%b' "$4" > "$dir/result"
    out=$(repro_verdict "$name" "$dir/console" "$dir/result" 0 10); got=${out%% *}
    if [ "$got" = "$want" ]; then echo "ok   $name: $out"
    else echo "FAIL $name: want $want, got: $out"; failures=$((failures + 1)); fi
}
rcase repro-hit REPRODUCED "$boot$hung" 'signature x\nreproduced hang|the unbind never returned\n'
rcase repro-miss NOT-REPRODUCED "$boot" 'not-reproduced the unbind returned in 1 s\nend\n'
rcase repro-inconclusive INCONCLUSIVE "$boot" 'inconclusive the unbind never returned\n'
rcase repro-setup FAIL "$boot" 'fail setup: mkfs failed\nend\n'
rcase repro-noboot FAIL '' ''

[ "$failures" = 0 ] && echo "verdict rules: all cases pass" || { echo "verdict rules: $failures case(s) failed"; exit 1; }
