#!/usr/bin/env bash
# Host test of the scenario headers (qemu/lib/scenarios.py): every header parses, the
# README's scenario table is what the headers say, a scenario file dropped in with no
# header is a daxmap run on the nvdimm machine on every kernel (listed and planned), and
# a bad header stops qemu/run before any VM, naming the file. Run by `make test`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
harness=$(cd "$here/.." && pwd)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

python3 "$here/scenarios.py" lint >/dev/null && pass "every scenario header parses and has a checks line" \
    || fail "scenario headers: $(python3 "$here/scenarios.py" lint 2>&1)"
python3 "$here/scenarios.py" readme-check "$harness/README.md" && pass "qemu/README.md's scenario table matches the headers" \
    || fail "qemu/README.md's scenario table is stale (python3 qemu/lib/scenarios.py readme qemu/README.md)"

# A copy of the harness to drop files into.
mkdir -p "$dir/qemu"; cp -r "$harness/run" "$harness/lib" "$harness/scenarios" "$dir/qemu/"
run="$dir/qemu/run"
printf '#!/bin/bash\n. "$HARNESS/scenarios/lib.sh"\nok "new"\n' > "$dir/qemu/scenarios/zz-new.sh"
"$run" --list | grep -x zz-new >/dev/null && pass "a header-less scenario file shows in --list" \
    || fail "zz-new.sh not in qemu/run --list: $("$run" --list 2>&1 | tr '\n' ' ')"
got=$("$run" --plan --kernels "6.1 6.12 7.2" 2>&1 | grep ' zz-new ')
want='6.1 zz-new vm=zz-new machine=nvdimm run=daxmap reproducer=0
6.12 zz-new vm=zz-new machine=nvdimm run=daxmap reproducer=0
7.2 zz-new vm=zz-new machine=nvdimm run=daxmap reproducer=0'
[ "$got" = "$want" ] && pass "a header-less scenario is a daxmap run on nvdimm on every kernel, last" \
    || fail "zz-new's plan: got [$got], want [$want]"
[ "$("$run" --plan --kernels 6.12 | tail -n1 | cut -d' ' -f2)" = zz-new ] || fail "zz-new is not planned last (order 1000)"

# A declared one: machine, series and a control run come from its header.
printf '#!/bin/bash\n# scenario: machine=cxl control=yes series=7.2 order=15\n# checks: x\n' > "$dir/qemu/scenarios/zz-ctl.sh"
printf '#!/bin/bash\n# checks: its control\n' > "$dir/qemu/scenarios/control-zz-ctl.sh"
got=$("$run" --plan --kernels "6.12 7.2" 2>&1 | grep ' zz-ctl ')
want='7.2 zz-ctl vm=control-zz-ctl machine=cxl run=control reproducer=0
7.2 zz-ctl vm=zz-ctl machine=cxl run=daxmap reproducer=0'
[ "$got" = "$want" ] && pass "machine, control and series come from the header" || fail "zz-ctl's plan: got [$got], want [$want]"
[ "$("$run" --plan --kernels 7.2 | sed -n 2p | cut -d' ' -f2)" = zz-ctl ] && pass "order=15 runs it second" \
    || fail "zz-ctl is not second in the 7.2 plan"

# Bad headers: qemu/run exits 2 before any VM and names the file and the problem.
bad() {  # LABEL HEADER EXPECTED-TEXT
    printf '#!/bin/bash\n%s\n' "$2" > "$dir/qemu/scenarios/zz-bad.sh"
    local out rc; out=$("$run" --list 2>&1); rc=$?
    if [ $rc = 2 ] && [[ $out == *zz-bad.sh*"$3"* ]]; then pass "bad header refused: $1"
    else fail "bad header ($1): exit $rc, output: $out"; fi
}
bad "unknown machine" "# scenario: machine=nvdimm3" 'machine "nvdimm3"'
bad "unknown key" "# scenario: machnie=cxl" 'unknown key "machnie"'
bad "control without its file" "# scenario: control=yes" 'no control-zz-bad.sh'
bad "bad series" "# scenario: series=latest" 'series "latest"'
bad "reproducer with control" "# scenario: role=reproducer control=yes" 'no control-zz-bad.sh'
rm -f "$dir/qemu/scenarios/zz-bad.sh"
printf '#!/bin/bash\n' > "$dir/qemu/scenarios/control-zz-orphan.sh"
out=$("$run" --list 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"control-zz-orphan.sh: a control for no scenario"* ]] && pass "a control with no scenario refused" \
    || fail "orphan control: exit $rc, output: $out"

[ $failures = 0 ] && echo "scenarios-test: all passed" || echo "scenarios-test: $failures failed"
[ $failures = 0 ]
