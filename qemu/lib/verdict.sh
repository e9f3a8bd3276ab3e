# shellcheck shell=bash
# Decide one scenario's verdict from the guest console log, the qemu exit status
# and the scenario's result lines (results share: result.txt).
#
# result.txt lines written in the guest (qemu/scenarios/lib.sh, guest-run.sh):
#   ok NAME [detail]            a check passed
#   fail NAME: reason           a check failed (daxmap's or the setup's side)
#   known TEXT                  a known kernel defect that was observed, named in the verdict
#   expect-oops REGEX|TEXT      the next step is known to oops the kernel (TEXT names the defect;
#                               here and below REGEX may hold '|', TEXT may not)
#   end                         the scenario reached its end (written before an expected oops)
#   timeout ... / dstate ...    guest-side timeout and the tasks in D state
#   rc N                        the scenario script's exit status (guest-run.sh)
#   defect REGEX|TEXT           a known kernel defect hit this run; it is named (KNOWN, status
#                               3) instead of failing only when REGEX matches the console
#   hazard REGEX|TEXT           a known kernel defect the next steps may hit (a race): an oops
#                               whose console matches REGEX is named (KNOWN, status 3); absent,
#                               the line says nothing
#   skip REASON                 this kernel lacks what the scenario needs (SKIP, status 4)
#   hard-stop WHY               the guest stopped itself (sysrq b) after recording
#
# Kernel-side verdicts take precedence and are distinct from daxmap failures:
#   kernel oops / kernel panic, hung task, kernel warning, guest timeout.

# console_oops FILE: prints a one-line description of the first oops/BUG/panic, if any.
console_oops() {
    local f=$1 first rip
    first=$(grep -m1 -aE 'BUG: |Oops: |general protection fault|Kernel panic - not syncing|kernel BUG at|Unable to handle kernel' "$f") || return 1
    first=$(printf '%s' "$first" | sed -E 's/^\[ *[0-9.]+\] //')
    rip=$(grep -m1 -aE '(RIP|EIP): [0-9a-f]{4}:' "$f" | sed -E 's/.*RIP: [0-9a-f]+://; s/^ *//; s/\+0x.*//')
    if [ -n "$rip" ]; then printf '%s at %s\n' "$first" "$rip"; else printf '%s\n' "$first"; fi
}

# console_hung FILE: hung-task report, if any.
console_hung() {
    grep -m1 -aE 'INFO: task .* blocked for more than [0-9]+ seconds' "$1" | sed -E 's/^\[ *[0-9.]+\] //'
}

# console_warning FILE: first kernel WARNING (refcount underflow and friends), if any.
console_warning() {
    local w
    w=$(grep -m1 -aE 'WARNING: CPU|refcount_t: ' "$1") || return 1
    printf '%s\n' "$w" | sed -E 's/^\[ *[0-9.]+\] //; s/ \[[^]]*\]$//'
}

# verdict NAME CONSOLE RESULTS QEMU_RC ELAPSED: prints "PASS name ..." or "FAIL name: ...".
# Returns 0 for PASS, 1 for FAIL.
verdict() {
    local name=$1 console=$2 results=$3 qrc=$4 elapsed=$5
    local oops hung warn fails nfail known expect exp_re exp_text ended rc guest_to dstate
    [ -f "$results" ] || : > "$results"
    oops=$(console_oops "$console" 2>/dev/null || true)
    hung=$(console_hung "$console" 2>/dev/null || true)
    warn=$(console_warning "$console" 2>/dev/null || true)
    fails=$(grep -a '^fail ' "$results" | sed 's/^fail //')
    nfail=$(printf '%s' "$fails" | grep -c . || true)
    known=$(grep -a '^known ' "$results" | sed 's/^known //' | paste -sd ';' - | sed 's/;/; /g')
    expect=$(grep -a -m1 '^expect-oops ' "$results" | sed 's/^expect-oops //')
    ended=$(grep -a -c '^end$' "$results" || true)
    rc=$(grep -a '^rc ' "$results" | tail -n1 | awk '{print $2}')
    guest_to=$(grep -a -m1 '^timeout ' "$results" | sed 's/^timeout //')
    dstate=$(grep -a -m1 '^dstate ' "$results" | sed 's/^dstate //')

    local skip defect hazard
    skip=$(grep -a -m1 '^skip ' "$results" | sed 's/^skip //')
    defect=$(grep -a -m1 '^defect ' "$results" | sed 's/^defect //')
    hazard=$(grep -a -m1 '^hazard ' "$results" | sed 's/^hazard //')
    if [ -n "$skip" ] && [ "$nfail" -eq 0 ]; then
        echo "SKIP $name ($skip)"
        return 4
    fi
    if [ -n "$defect" ]; then
        exp_re=${defect%|*}; exp_text=${defect##*|}     # REGEX may hold '|', TEXT may not
        if grep -aqE "$exp_re" "$console"; then
            local more=""
            [ "$nfail" -gt 0 ] && more="; $nfail check(s) failed: $(printf '%s\n' "$fails" | head -n1 | head -c 150)"
            echo "KNOWN $name (known kernel defect: $exp_text$more${oops:+; oops: $oops})"
            return 3
        fi
        fails="${fails:+$fails
}the scenario named a known kernel defect ($exp_text) but its signature /$exp_re/ is not on the console"
        nfail=$((nfail + 1))
    fi
    if [ -n "$oops" ] && [ -n "$hazard" ]; then
        exp_re=${hazard%|*}; exp_text=${hazard##*|}
        if grep -aqE "$exp_re" "$console"; then
            echo "KNOWN $name (known kernel defect: $exp_text; oops: $oops)"
            return 3
        fi
    fi
    if [ -n "$oops" ]; then
        if [ -n "$expect" ]; then
            exp_re=${expect%|*}; exp_text=${expect##*|}
            if grep -aqE "$exp_re" "$console" && [ "$ended" -gt 0 ] && [ "$nfail" -eq 0 ]; then
                # Every check before it passed, but the run did not end gracefully: named
                # as the kernel's defect (KNOWN), never a pass.
                echo "KNOWN $name (known kernel defect: $exp_text${known:+; $known})"
                return 3
            fi
        fi
        echo "FAIL $name: kernel oops ($oops)"
        return 1
    fi
    if [ -n "$hung" ]; then
        echo "FAIL $name: hung task ($hung)"
        return 1
    fi
    if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
        echo "FAIL $name: guest timeout (no poweroff after ${elapsed}s${dstate:+; D state: $dstate})"
        return 1
    fi
    if [ -n "$guest_to" ]; then
        echo "FAIL $name: scenario timeout ($guest_to${dstate:+; D state: $dstate})"
        return 1
    fi
    if [ -n "$warn" ] && ! grep -aq '^allow-warning' "$results"; then
        echo "FAIL $name: kernel warning ($warn)"
        return 1
    fi
    if [ "$nfail" -gt 0 ]; then
        local first
        first=$(printf '%s\n' "$fails" | head -n1)
        if [ "$nfail" -gt 1 ]; then first="$first (+$((nfail - 1)) more)"; fi
        echo "FAIL $name: $first"
        return 1
    fi
    if [ "$ended" -eq 0 ]; then
        if ! grep -aq 'DAXMAP-INIT: chroot ready' "$console"; then
            echo "FAIL $name: guest did not reach the scenario (see console log; qemu exit $qrc)"
        elif [ -z "$rc" ]; then
            echo "FAIL $name: scenario stopped without a result (qemu exit $qrc)"
        else
            echo "FAIL $name: scenario exited $rc before its end"
        fi
        return 1
    fi
    if [ -n "$rc" ] && [ "$rc" != 0 ]; then
        echo "FAIL $name: scenario script exited $rc"
        return 1
    fi
    echo "PASS $name${known:+ ($known)}"
    return 0
}

# control_verdict NAME CONSOLE RESULTS QEMU_RC ELAPSED: a control run is "recorded" when it
# got to its removal and wrote what happened (facts.txt); whatever the kernel did then is
# its outcome, not a failure. Prints "CONTROL name: summary" (status 0) or "FAIL ..." (1).
control_verdict() {
    local name=$1 console=$2 results=$3 qrc=$4 elapsed=$5 facts fails oops hung sum
    facts=$(dirname "$results")/facts.txt
    fails=$(grep -a '^fail ' "$results" 2>/dev/null | sed 's/^fail //' | head -n1)
    if ! grep -aq '\.removal=' "$facts" 2>/dev/null; then
        if [ -n "$fails" ]; then echo "FAIL $name (control): $fails"
        elif ! grep -aq 'DAXMAP-INIT: chroot ready' "$console"; then echo "FAIL $name (control): guest did not reach the scenario (qemu exit $qrc)"
        else echo "FAIL $name (control): stopped before the removal (qemu exit $qrc)"; fi
        return 1
    fi
    oops=$(console_oops "$console" 2>/dev/null || true)
    hung=$(grep -ac 'blocked for more than' "$console" || true)
    sum=$(awk -F= '$1 ~ /\.(removal|signals|unkillable|umount)$/ {v[$1]=$2} END {for (k in v) printf "%s=%s; ", k, v[k]}' "$facts" | sort | head -c 400)
    echo "CONTROL $name: recorded (${sum}hung-task reports: $hung${oops:+; oops: $oops}${fails:+; setup: $fails})"
    return 0
}

# repro_verdict NAME CONSOLE RESULTS QEMU_RC ELAPSED: a reproducer (scenarios/repro-*.sh,
# plain processes only) says what the kernel did. Prints "REPRODUCED name: KIND: TEXT" or
# "NOT-REPRODUCED name: TEXT" (status 0: either is the answer a reproducer exists to give),
# "INCONCLUSIVE name: TEXT" (status 4, counted with the skips: it could not get to the
# point, e.g. another defect came first), or "FAIL name: ..." when it said nothing (setup).
repro_verdict() {
    local name=$1 console=$2 results=$3 qrc=$4 line kind
    [ -f "$results" ] || : > "$results"
    if line=$(grep -a -m1 '^reproduced ' "$results"); then
        line=${line#reproduced }; kind=${line%%|*}
        echo "REPRODUCED $name: $kind: ${line#*|}"
        return 0
    fi
    if line=$(grep -a -m1 '^not-reproduced ' "$results"); then
        echo "NOT-REPRODUCED $name: ${line#not-reproduced }"
        return 0
    fi
    if line=$(grep -a -m1 '^inconclusive ' "$results"); then
        echo "INCONCLUSIVE $name: ${line#inconclusive }"
        return 4
    fi
    line=$(grep -a -m1 '^fail ' "$results" | sed 's/^fail //')
    if [ -z "$line" ] && ! grep -aq 'DAXMAP-INIT: chroot ready' "$console"; then line="the guest did not reach the scenario (qemu exit $qrc)"; fi
    echo "FAIL $name: the reproducer came to no conclusion: ${line:-stopped without a result (qemu exit $qrc)}"
    return 1
}

# repro_report DIR: DIR/report.md, for a kernel developer: kernel and config, the qemu
# command line, the guest steps, the verdict, the console excerpt from the signature on.
repro_report() {
    local dir=$1 sig kind
    sig=$(grep -a -m1 '^signature ' "$dir/share/result.txt" 2>/dev/null | sed 's/^signature //')
    kind=$(grep -a -m1 '^reproduced ' "$dir/share/result.txt" 2>/dev/null | sed 's/^reproduced //; s/|.*//')
    {
        echo "# $(cat "$dir/verdict.txt")"
        echo
        echo "- kernel: \`${KERNEL_RELEASE:-?}\` (Debian package version ${KERNEL_PKGVER:-?}; image \`${KERNEL_IMAGE:-?}\`)"
        echo "- config: \`${KERNEL_CONFIG:-not known: a user kernel}\`"
        echo "- outcome: ${kind:-not reproduced / inconclusive} (a hang, an oops or a warning, as the console shows below)"
        echo "- produced by: \`make qemu-test SCENARIO=$(basename "$dir") KERNELS=${series:-...}\` (or \`KERNEL=bzImage MODULES=dir\` for your own build)"
        echo
        echo "## qemu command line"
        echo; echo '```'; cat "$dir/qemu-cmdline.txt" 2>/dev/null; echo '```'
        echo
        echo "## Steps in the guest (root, in a chroot of a Debian 12 userland; busybox init)"
        echo; echo '```'; cat "$dir/share/steps.txt" 2>/dev/null; echo '```'
        echo
        echo "## Console excerpt"
        echo; echo '```'
        if [ -n "$sig" ] && grep -aqE "$sig" "$dir/console.log"; then
            local n; n=$(grep -anE "$sig" "$dir/console.log" | head -n1 | cut -d: -f1)
            sed -n "$((n > 5 ? n - 5 : 1)),$((n + 60))p" "$dir/console.log"
        else
            grep -a -A3 'DAXMAP-MARK repro' "$dir/console.log" | head -n 40
        fi
        echo '```'
    } > "$dir/report.md"
}
