# shellcheck shell=bash
# Boot one fresh VM for one scenario. The guest gets:
#   - the host root read-only over 9p (mount_tag hostroot) and a writable results
#     share (mount_tag results) holding config.sh and what the scenario writes;
#   - nvdimm:  one 1 GiB NVDIMM (no label-size: a labelled region is misaligned)
#   - nvdimm2: two 1 GiB NVDIMMs (region0, region1)
#   - cxl:     q35, one CXL host bridge, root port and 256 MiB persistent type-3 memdev
#              (mem0, with a label area), behind a 4 GiB fixed memory window
#   - memmap:  no NVDIMM, 4 GiB RAM, memmap=512M!2G (legacy pmem0 via nd_e820)
#   - hmem:    no NVDIMM, 2 GiB RAM, 512 MiB of it soft-reserved (dax_hmem's device-dax)
# TCG by default (/dev/kvm is not usable here); QEMU_ACCEL overrides.
# Sets VM_RC: qemu's exit status (124 = outer timeout).

run_vm() {
    local name=$1 machine=$2 dir=$3 share append i
    local -a args
    share="$dir/share"
    rm -rf "$dir"; mkdir -p "$share"
    : > "$share/result.txt"
    # The guest sees the host root read-only, but with fresh tmpfs on /tmp, /run and
    # /var/tmp: the harness scripts travel in the share, and so does a daxmap binary
    # that lives under one of those (its Swift runtime under /opt/swift stays visible).
    mkdir -p "$share/harness"
    cp -r "$HARNESS_DIR/guest-run.sh" "$HARNESS_DIR/scenarios" "$share/harness/"
    local guest_daxmap=$DAXMAP
    case $DAXMAP in
        /tmp/*|/run/*|/var/tmp/*|/dev/*|/proc/*|/sys/*)
            if [ -f "$DAXMAP" ]; then cp "$DAXMAP" "$share/daxmap"; guest_daxmap=/tmp/results/daxmap; fi ;;
    esac
    # GUEST_MODULES_DIR resolved: a symlinked cache (a worktree's) would lead outside the chroot.
    cat > "$share/config.sh" <<EOF
SCENARIO='$name'
REPO='$REPO'
DAXMAP='$guest_daxmap'
HARNESS=/tmp/results/harness
GUEST_MODULES_DIR='${KERNEL_MODULES:+$(readlink -f "$KERNEL_MODULES")}'
GUEST_TIMEOUT='$((VM_TIMEOUT - 30))'
HUNG_TASK_TIMEOUT='${HUNG_TASK_TIMEOUT:-20}'
GUEST_SHELL='$GUEST_SHELL'
MACHINE='$machine'
RUN_KIND='${RUN_KIND:-daxmap}'
SOAK_CYCLES='${SOAK_CYCLES:-}'
KERNEL_SERIES='${series:-}'
EOF
    # oops=panic ends a daxmap run at its first oops; a control run goes on after one
    # (the oops is part of what it records: what umount, re-bind and remount do next).
    append="console=ttyS0,115200 rdinit=/init panic=-1"
    [ "${RUN_KIND:-daxmap}" = control ] || append+=" oops=panic"
    append+=" loglevel=6 printk.time=1 log_buf_len=8M mitigations=off tsc=reliable"
    args=(
        -accel "${QEMU_ACCEL:-tcg}" -cpu "${QEMU_CPU:-max}" -smp "${QEMU_SMP:-2}"
        -kernel "$KERNEL_IMAGE" -initrd "$INITRAMFS"
        -no-reboot -nodefaults -display none -monitor none
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$share,mount_tag=results,security_model=none,multidevs=remap"
    )
    case $machine in
        cxl)
            # qemu 7.2's type-3 property is memdev= (persistent; volatile-memdev needs a
            # newer qemu). The label area (lsa) holds the region and namespace labels; the
            # serial (sn=) makes the interleave-set cookie stable, without it re-enabling
            # the region fails ("invalid interleave-set-cookie"). Region commit needs
            # hypervisor=off: with the hypervisor bit set the kernel refuses to invalidate
            # caches ("Failed to synchronize CPU cache state"). The later -cpu wins.
            # pcie_ports=compat: without it cxl_pci fails its probe ("Failed to get
            # interrupt for event Info log") and there is no memdev.
            truncate -s 256M "$dir/cxl-pmem0.img"
            truncate -s 128K "$dir/cxl-lsa0.img"
            args+=(-machine q35,cxl=on -m 2G,slots=4,maxmem=8G -cpu "${QEMU_CPU:-max},hypervisor=off"
                   -object "memory-backend-file,id=cxl-mem0,share=on,mem-path=$dir/cxl-pmem0.img,size=256M"
                   -object "memory-backend-file,id=cxl-lsa0,share=on,mem-path=$dir/cxl-lsa0.img,size=128K"
                   -device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1
                   -device cxl-rp,port=0,bus=cxl.1,id=root_port13,chassis=0,slot=2
                   -device cxl-type3,bus=root_port13,memdev=cxl-mem0,lsa=cxl-lsa0,id=cxl-pmem0,sn=0x1234
                   -M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G)
            append+=" pcie_ports=compat"
            ;;
        nvdimm|nvdimm2)
            args+=(-machine pc,nvdimm=on -m 2G,slots=4,maxmem=8G)
            for i in 1 $([ "$machine" = nvdimm2 ] && echo 2); do
                truncate -s 1G "$dir/nvdimm$i.img"
                args+=(-object "memory-backend-file,id=mem$i,share=on,mem-path=$dir/nvdimm$i.img,size=1G"
                       -device "nvdimm,id=nvdimm$i,memdev=mem$i")
            done
            ;;
        memmap)
            args+=(-machine pc -m 4G)
            append+=" memmap=512M!2G"
            ;;
        hmem)
            # No NVDIMM: RAM 1G..1.5G re-typed in e820 as soft-reserved (0xefffffff, what
            # firmware gives EFI_MEMORY_SP memory), which dax_hmem turns into a device-dax.
            args+=(-machine pc -m 2G)
            # memhp_default_state=offline: kmem (which 6.12 and 7.2 bind to hmem devices at
            # boot; 6.1 binds device_dax) adds the memory offline, so it can become devdax.
            append+=" memmap=512M%0x40000000-1+0xefffffff memhp_default_state=offline"
            ;;
        *) die "unknown machine $machine" ;;
    esac
    append+=" ${QEMU_EXTRA_APPEND:-}"
    if [ "$GUEST_SHELL" = 1 ]; then
        # Interactive: the console is this terminal (and still logged).
        args+=(-chardev "stdio,id=con,signal=off,logfile=$dir/console.log" -serial chardev:con)
        printf '%q ' "${QEMU_BIN:-qemu-system-x86_64}" "${args[@]}" -append "$append" > "$dir/qemu-cmdline.txt"
        "${QEMU_BIN:-qemu-system-x86_64}" "${args[@]}" -append "$append"
        VM_RC=$?
    else
        args+=(-serial "file:$dir/console.log")
        printf '%q ' "${QEMU_BIN:-qemu-system-x86_64}" "${args[@]}" -append "$append" > "$dir/qemu-cmdline.txt"
        if [ "$VERBOSE" = 1 ]; then
            : > "$dir/console.log"
            tail -n +1 -F "$dir/console.log" 2>/dev/null | sed -u "s/^/[$name] /" >&2 &
            local tailpid=$!
        fi
        timeout -k 10 "$VM_TIMEOUT" "${QEMU_BIN:-qemu-system-x86_64}" "${args[@]}" -append "$append" \
            > "$dir/qemu.log" 2>&1 < /dev/null &
        local qpid=$! t0=$SECONDS booted=0
        # Boot watchdog: a guest that has not reached its scenario after BOOT_TIMEOUT s
        # (a TCG boot that stalls, seen under load) is stopped now, not at the VM
        # timeout, and the caller retries it (it never started its scenario).
        # Wedge watchdog: a guest whose kernel reports a soft lockup (a CPU spinning in
        # the kernel, e.g. on a lock an oopsed task held: 7.2's ext4 control) and whose
        # scenario has written nothing to the share for WEDGE_TIMEOUT s will write
        # nothing more; it is stopped then, not at the VM timeout, and says so in its
        # facts. What it recorded before stands.
        local wedge=${WEDGE_TIMEOUT:-90} last started=$(date +%s)
        while kill -0 $qpid 2>/dev/null; do
            if [ $booted = 0 ]; then
                if grep -aq 'DAXMAP-GUEST: start' "$dir/console.log" 2>/dev/null; then booted=1
                elif [ $((SECONDS - t0)) -ge "${BOOT_TIMEOUT:-120}" ]; then
                    echo "qemu/run: boot watchdog: no scenario start after ${BOOT_TIMEOUT:-120}s" >> "$dir/qemu.log"
                    kill $qpid 2>/dev/null
                fi
            elif grep -aq 'BUG: soft lockup' "$dir/console.log" 2>/dev/null; then
                last=$( (echo "$started"; stat -c %Y "$share/scenario.log" "$share/facts.txt" 2>/dev/null) | sort -n | tail -n1)
                if [ $(($(date +%s) - last)) -ge "$wedge" ]; then
                    echo "qemu/run: wedge watchdog: soft lockup, and nothing written to the share for ${wedge}s" >> "$dir/qemu.log"
                    echo "vm.stopped=soft lockup on the console, nothing written for ${wedge}s: stopped by the host after $((SECONDS - t0))s" >> "$share/facts.txt"
                    kill $qpid 2>/dev/null
                fi
            fi
            sleep 1
        done
        wait $qpid
        VM_RC=$?
        if [ "$VERBOSE" = 1 ]; then sleep 0.3; kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null; fi
    fi
    [ -f "$dir/console.log" ] || : > "$dir/console.log"
    if [ "$KEEP" != 1 ]; then rm -f "$dir"/nvdimm*.img "$dir"/cxl-*.img; fi
}
