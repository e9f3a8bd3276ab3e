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

# --- the kernel matrix ------------------------------------------------------------
# Series the matrix knows: 6.1 (bookworm, before MF_MEM_PRE_REMOVE), 6.12 (bookworm,
# after it), 7.2 (unstable: the newest Debian ships; fetched through a private apt
# configuration under $CACHE/apt-unstable that never touches the host's sources).
KNOWN_SERIES=(6.1 6.12 7.2)

# The Debian archive URI the host's own apt uses for bookworm main (so no host is
# named here and a local mirror is honoured).
debian_archive_uri() {
    apt-cache policy 2>/dev/null | awk '$3 ~ /^bookworm\/main$/ && $4 == "amd64" {print $2; exit}'
}

# apt_unstable ARGS...: apt-get/apt-cache with a private configuration for Debian
# unstable: own sources list, no sources.list.d, own lists, cache and (empty) status.
# Usage: apt_unstable apt-get download PKG | apt_unstable apt-cache search RE
UNSTABLE_APT="$CACHE/apt-unstable"
apt_unstable() {
    local tool=$1; shift
    local a=$UNSTABLE_APT
    if [ ! -f "$a/sources.list" ]; then
        local uri; uri=$(debian_archive_uri)
        [ -n "$uri" ] || die "cannot tell the host's Debian archive URI (apt-cache policy shows no bookworm/main)"
        mkdir -p "$a/sources.list.d" "$a/preferences.d" "$a/state/lists/partial" "$a/cache/archives/partial"
        : > "$a/status"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri unstable main" > "$a/sources.list"
    fi
    "$tool" -q -o Dir::Etc::sourcelist="$a/sources.list" -o Dir::Etc::sourceparts="$a/sources.list.d" \
        -o Dir::Etc::preferencesparts="$a/preferences.d" -o Dir::State="$a/state" \
        -o Dir::State::status="$a/status" -o Dir::Cache="$a/cache" \
        -o APT::Architecture=amd64 -o Acquire::Languages=none -o APT::Sandbox::User=root "$@"
}
apt_unstable_update() {
    log "apt-get update (private configuration for Debian unstable, $UNSTABLE_APT)"
    apt_unstable apt-get update >&2 || die "apt-get update of the private unstable configuration failed"
}

# download_into DIR PKG [unstable]: the .deb of PKG in DIR (downloaded once).
download_into() {
    local dir=$1 pkg=$2 via=${3:-} deb
    deb=$(ls "$dir"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
    if [ -z "$deb" ]; then
        if [ "$via" = unstable ]; then
            log "apt-get download $pkg (unstable, private apt configuration)"
            (cd "$dir" && apt_unstable apt-get download "$pkg" >&2) ||
                { apt_unstable_update; (cd "$dir" && apt_unstable apt-get download "$pkg" >&2); } ||
                die "cannot download $pkg from unstable"
            deb=$(ls "$dir"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
        else
            deb=$(apt_download "$pkg" "$dir")
        fi
    fi
    [ -n "$deb" ] || die "no .deb for $pkg"
    printf '%s\n' "$deb"
}

# series_pkg SERIES: the kernel package to use for SERIES: one already downloaded
# (offline re-runs), else the newest apt knows. KERNEL_PKG overrides (one series).
series_pkg() {
    local series=$1 glob re pkg deb
    case $series in
        6.1)  glob='linux-image-6.1.0-*-amd64-unsigned'; re='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
        6.12) glob='linux-image-6.12.*+deb12-amd64-unsigned'; re='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
        7.2)  glob='linux-image-7.2.*-amd64'; re='^linux-image-7\.2\.[0-9]+\+deb[0-9]+-amd64$' ;;
        *) die "unknown kernel series '$series' (known: ${KNOWN_SERIES[*]})" ;;
    esac
    deb=$(ls "$CACHE"/debs/$glob"_"*.deb 2>/dev/null | sort -V | tail -n1)
    if [ -n "$deb" ]; then pkg=$(basename "$deb"); printf '%s\n' "${pkg%%_*}"; return; fi
    if [ "$series" = 7.2 ]; then
        [ -d "$UNSTABLE_APT/state/lists" ] && ls "$UNSTABLE_APT"/state/lists/*Packages* >/dev/null 2>&1 || apt_unstable_update
        pkg=$(apt_unstable apt-cache search --names-only "$re" 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
    else
        pkg=$(apt-cache search --names-only "$re" 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
        if [ -z "$pkg" ]; then
            $SUDO apt-get update -q >&2 || true
            pkg=$(apt-cache search --names-only "$re" 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
        fi
    fi
    [ -n "$pkg" ] || die "no package matching $re known to apt"
    printf '%s\n' "$pkg"
}

# fetch_series SERIES: sets KERNEL_IMAGE, KERNEL_MODULES (dir holding modules.dep),
# KERNEL_RELEASE, KERNEL_CONFIG, KERNEL_PKGVER for one series of the matrix.
fetch_series() {
    local series=$1 pkg root deb ver dep
    mkdir -p "$CACHE/debs"
    pkg=${KERNEL_PKG:-$(series_pkg "$series")}
    root="$CACHE/$pkg"
    if [ ! -f "$root/.unpacked" ]; then
        rm -rf "$root"; mkdir -p "$root"
        if [ "$series" = 7.2 ]; then
            # linux-image-7.2.* is a meta package: the kernel is in linux-binary-*, the
            # modules in linux-modules-*, config/System.map/modules.builtin in linux-base-*.
            deb=$(download_into "$CACHE/debs" "$pkg" unstable)
            ver=${pkg#linux-image-}
            for dep in "linux-binary-$ver" "linux-modules-$ver" "linux-base-$ver"; do
                deb=$(download_into "$CACHE/debs" "$dep" unstable)
                log "unpacking $(basename "$deb")"
                dpkg -x "$deb" "$root" || die "dpkg -x $deb failed"
            done
        else
            deb=$(download_into "$CACHE/debs" "$pkg")
            log "unpacking $(basename "$deb")"
            dpkg -x "$deb" "$root" || die "dpkg -x $deb failed"
        fi
        touch "$root/.unpacked"
    fi
    KERNEL_PKGVER=$(ls "$CACHE"/debs/"$pkg"_*.deb 2>/dev/null | sort -V | tail -n1 | sed 's/.*_\(.*\)_.*/\1/')
    if [ "$series" = 7.2 ]; then
        KERNEL_RELEASE=$(ls "$root/usr/lib/modules" 2>/dev/null | head -n1)
        KERNEL_IMAGE="$root/usr/lib/modules/$KERNEL_RELEASE/vmlinuz"
        KERNEL_MODULES="$root/usr/lib/modules/$KERNEL_RELEASE"
        KERNEL_CONFIG=$(ls "$root"/boot/config-* "$root"/usr/lib/modules/"$KERNEL_RELEASE"/config 2>/dev/null | head -n1)
    else
        KERNEL_RELEASE=${pkg#linux-image-}; KERNEL_RELEASE=${KERNEL_RELEASE%-unsigned}
        KERNEL_IMAGE="$root/boot/vmlinuz-$KERNEL_RELEASE"
        KERNEL_MODULES="$root/lib/modules/$KERNEL_RELEASE"
        KERNEL_CONFIG="$root/boot/config-$KERNEL_RELEASE"
    fi
    [ -f "$KERNEL_IMAGE" ] || die "no kernel image at $KERNEL_IMAGE"
    [ -d "$KERNEL_MODULES" ] || die "no modules at $KERNEL_MODULES"
}

# fetch_kernel: the 6.12 kernel (the single-kernel default before the matrix).
fetch_kernel() { fetch_series 6.12; }

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
