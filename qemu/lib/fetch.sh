# shellcheck shell=bash
# Fetch the guest kernel and busybox with `apt-get download` into $CACHE and
# unpack them with `dpkg -x`. Nothing is installed on the host and no URL is
# ever fetched directly. Everything is reused when present.

# newest_kernel_pkg: the newest linux-image-6.12.*+deb12-amd64-unsigned apt knows.
newest_kernel_pkg() {
    apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' 2>/dev/null |
        awk '{print $1}' | sort -V | tail -n1
}

# apt_download PKG DIR: download PKG's .deb into DIR unless one is there already.
# Prints the path of the .deb.
apt_download() {
    local pkg=$1 dir=$2 deb
    deb=$(ls "$dir"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
    if [ -z "$deb" ]; then
        log "apt-get download $pkg"
        if ! (cd "$dir" && apt-get download -q "$pkg" >&2); then
            log "apt-get download $pkg failed; trying after apt-get update"
            $SUDO apt-get update -q >&2 || true
            (cd "$dir" && apt-get download -q "$pkg" >&2) || die "cannot download $pkg"
        fi
        deb=$(ls "$dir"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
    fi
    [ -n "$deb" ] || die "no .deb for $pkg in $dir"
    printf '%s\n' "$deb"
}

# fetch_kernel: sets KERNEL_IMAGE, KERNEL_MODULES (dir holding modules.dep), KERNEL_RELEASE.
fetch_kernel() {
    local pkg deb root
    mkdir -p "$CACHE/debs"
    if [ -n "${KERNEL_PKG:-}" ]; then
        pkg=$KERNEL_PKG
    else
        # Reuse an already-downloaded kernel when present (offline re-runs).
        deb=$(ls "$CACHE"/debs/linux-image-6.12.*+deb12-amd64-unsigned_*.deb 2>/dev/null | sort -V | tail -n1)
        if [ -n "$deb" ]; then
            pkg=$(basename "$deb"); pkg=${pkg%%_*}
        else
            pkg=$(newest_kernel_pkg)
            if [ -z "$pkg" ]; then
                $SUDO apt-get update -q >&2 || true
                pkg=$(newest_kernel_pkg)
            fi
        fi
    fi
    [ -n "$pkg" ] || die "no linux-image-6.12.*+deb12-amd64-unsigned package known to apt"
    root="$CACHE/$pkg"
    if [ ! -f "$root/.unpacked" ]; then
        deb=$(apt_download "$pkg" "$CACHE/debs")
        log "unpacking $(basename "$deb")"
        rm -rf "$root"; mkdir -p "$root"
        dpkg -x "$deb" "$root" || die "dpkg -x $deb failed"
        touch "$root/.unpacked"
    fi
    KERNEL_RELEASE=${pkg#linux-image-}; KERNEL_RELEASE=${KERNEL_RELEASE%-unsigned}
    KERNEL_IMAGE="$root/boot/vmlinuz-$KERNEL_RELEASE"
    KERNEL_MODULES="$root/lib/modules/$KERNEL_RELEASE"
    [ -f "$KERNEL_IMAGE" ] || die "no kernel image at $KERNEL_IMAGE"
    [ -d "$KERNEL_MODULES" ] || die "no modules at $KERNEL_MODULES"
}

# fetch_busybox: sets BUSYBOX (a static busybox binary).
fetch_busybox() {
    local root="$CACHE/busybox-static" deb
    if [ ! -x "$root/bin/busybox" ]; then
        mkdir -p "$CACHE/debs"
        deb=$(apt_download busybox-static "$CACHE/debs")
        rm -rf "$root"; mkdir -p "$root"
        dpkg -x "$deb" "$root" || die "dpkg -x $deb failed"
    fi
    BUSYBOX="$root/bin/busybox"
    [ -x "$BUSYBOX" ] || die "no busybox in $root"
}
