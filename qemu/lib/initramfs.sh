# shellcheck shell=bash
# Build the guest initramfs: busybox, qemu/init, and the closure of the modules
# the scenarios need (resolved through modules.dep with the host's modprobe,
# decompressed so busybox insmod can load them, listed in load order).

# Modules wanted in the guest (missing or built-in ones are skipped).
GUEST_MODULES=(
    virtio_pci                            # a module on 6.1 (built in on 6.12 and 7.2)
    9pnet_virtio 9p                       # host root + results share
    nfit nd_pmem nd_btt dax_pmem device_dax nd_e820   # NVDIMM / legacy pmem / devdax
    kmem dax_hmem                         # system-ram mode (kmem), soft-reserved memory (hmem)
    xfs ext4                              # fsdax filesystems
    cxl_acpi cxl_pci cxl_mem cxl_pmem dax_cxl   # CXL type-3 (the cxl machine); dax_cxl from 6.12
)

# modules_base DIR -> prints "BASE KVER" such that BASE/lib/modules/KVER is DIR,
# staging a symlink tree when DIR is not laid out that way.
modules_base() {
    local dir kver parent base
    dir=$(cd "$1" && pwd) || die "no modules dir $1"
    kver=$(basename "$dir")
    parent=$(dirname "$dir")
    if [ "$(basename "$parent")" = modules ] && [ "$(basename "$(dirname "$parent")")" = lib ]; then
        base=$(dirname "$(dirname "$parent")")
    else
        base="$CACHE/modbase-$kver"
        mkdir -p "$base/lib/modules"
        ln -sfn "$dir" "$base/lib/modules/$kver"
    fi
    printf '%s %s\n' "$base" "$kver"
}

# ensure_depmod DIR: modules.dep must exist (a .deb ships none: depmod makes it).
ensure_depmod() {
    local dir=$1 base kver
    [ -f "$dir/modules.dep" ] && return 0
    read -r base kver < <(modules_base "$dir")
    log "depmod for $kver"
    depmod -b "$base" "$kver" || die "depmod failed for $dir (is it writable?)"
}

# build_initramfs OUT.cpio.gz: uses BUSYBOX, KERNEL_MODULES (may be empty), HARNESS_DIR.
build_initramfs() {
    local out=$1 stage base kver m line f rel n=0
    stage=$(mktemp -d "$CACHE/initramfs.XXXXXX")
    mkdir -p "$stage"/{bin,sbin,dev,proc,sys,newroot,results,etc,lib/modules,tmp,run}
    cp "$BUSYBOX" "$stage/bin/busybox"
    cp "$HARNESS_DIR/init" "$stage/init"
    chmod 755 "$stage/init" "$stage/bin/busybox"
    : > "$stage/etc/modules.list"
    if [ -n "${KERNEL_MODULES:-}" ]; then
        ensure_depmod "$KERNEL_MODULES"
        read -r base kver < <(modules_base "$KERNEL_MODULES")
        mkdir -p "$stage/lib/modules/$kver"
        for m in "${GUEST_MODULES[@]}"; do
            # -C /dev/null: ignore the host's modprobe.d (ndctl's install rule).
            modprobe -C /dev/null -d "$base" -S "$kver" --show-depends "$m" 2>/dev/null |
            while read -r line; do
                case $line in insmod\ *) ;; *) continue ;; esac
                f=${line#insmod }; f=${f%% *}
                rel=${f#"$base/lib/modules/$kver/"}
                rel=${rel%.xz}; rel=${rel%.zst}; rel=${rel%.gz}
                grep -qxF "/lib/modules/$kver/$rel" "$stage/etc/modules.list" && continue
                mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
                case $f in
                    *.xz) xz -dc "$f" > "$stage/lib/modules/$kver/$rel" ;;
                    *.zst) zstd -dqc "$f" > "$stage/lib/modules/$kver/$rel" ;;
                    *.gz) gzip -dc "$f" > "$stage/lib/modules/$kver/$rel" ;;
                    *) cp "$f" "$stage/lib/modules/$kver/$rel" ;;
                esac
                echo "/lib/modules/$kver/$rel" >> "$stage/etc/modules.list"
            done
        done
        n=$(wc -l < "$stage/etc/modules.list")
        echo "$kver" > "$stage/etc/kver"
    fi
    log "initramfs: busybox + $n modules"
    (cd "$stage" && find . | sort | if command -v cpio >/dev/null; then cpio -o -H newc --quiet; else "$BUSYBOX" cpio -o -H newc; fi) | gzip -1 > "$out.tmp" || die "cpio failed"
    mv "$out.tmp" "$out"
    rm -rf "$stage"
}
