#!/usr/bin/env bash
# Outside packages build against daxmap by version, as a service would depend on it.
#
#   Tests/Outside/outside-test.sh        (run by `make test`; SWIFT to choose the toolchain)
#
# 1. The package as a release: the tracked and untracked-but-not-ignored files of this
#    checkout (what the next commit would hold) in a fresh git repository, tagged 99.0.0.
# 2. A service package depending on it with `.package(url: "file://...", from: "99.0.0")`
#    and the DaxMap and DaxLog products: it opens an emulated device, maps a range of its
#    own, makes a log in the rest, appends, reopens and recovers. Built and run.
# 3. A test package depending on the DaxMapTesting and DaxLogTesting products: it injects a
#    media failure that a guarded read meets, and runs a short DaxLogCrashTest. Built and run.
#    Skipped, saying so, while Package.swift has no such products.
# 4. Package.swift's dependencies are `from:` ranges: a pin (exact:, .upToNextMinor, a
#    revision or branch) would keep a service from taking its own newer minor versions.
#
# Everything goes to one temporary folder, removed at the end: the outside packages'
# .build (--scratch-path), SwiftPM's repository cache (--cache-path) and its lock files
# (TMPDIR), so nothing in ~/.cache or /tmp grows per run. github.com dependencies resolve
# as they do for the package itself (here through git's url.insteadOf mirror, offline).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
SWIFT=${SWIFT:-swift}
VERSION=99.0.0
work=$(mktemp -d /tmp/daxmap-outside-XXXXXX)
mkdir "$work/tmp"
trap 'rm -rf "$work"' EXIT
say() { printf 'outside: %s\n' "$*"; }

# 4 first: it needs no build.
pins=$(grep -nE '^\s*\.package\(' "$REPO/Package.swift" | grep -v 'from: "' || true)
if [ -n "$pins" ]; then
    say "FAIL: a dependency of Package.swift is not a from: range:"
    printf '%s\n' "$pins"
    exit 1
fi
say "Package.swift's dependencies are from: ranges"

# 1. The release.
if ! git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    say "SKIP: $REPO is not a git checkout: no release to make of it"
    exit 0
fi
mkdir "$work/daxmap"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
    while IFS= read -r -d '' f; do [ -e "$REPO/$f" ] && printf '%s\0' "$f"; done |
    (cd "$REPO" && tar --null -T - -cf -) | tar -x -C "$work/daxmap"
rm -rf "$work/daxmap/.build" "$work/daxmap/Package.resolved"
git -C "$work/daxmap" init -q
git -C "$work/daxmap" add -A
git -C "$work/daxmap" -c user.name=outside -c user.email=outside@localhost commit -q -m "daxmap $VERSION"
git -C "$work/daxmap" tag "$VERSION"
say "daxmap $VERSION at file://$work/daxmap"

build_and_run() {  # NAME ARGS...: build the package $work/NAME, run its executable NAME with ARGS
    local name=$1; shift
    # TMPDIR too: SwiftPM leaves a lock file there per path it locked.
    if ! TMPDIR="$work/tmp" "$SWIFT" build --package-path "$work/$name" --scratch-path "$work/$name-build" \
            --cache-path "$work/cache" >"$work/$name.log" 2>&1; then
        tail -40 "$work/$name.log"
        say "FAIL: the $name package did not build against daxmap $VERSION"
        exit 1
    fi
    "$work/$name-build/debug/$name" "$@"
}

manifest() {  # NAME PRODUCTS...: a Package.swift of one executable using the products
    local name=$1; shift
    local deps="" p
    for p in "$@"; do deps+=".product(name: \"$p\", package: \"daxmap\"), "; done
    cat <<EOF
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "$name",
    dependencies: [.package(url: "file://$work/daxmap", from: "$VERSION")],
    targets: [.executableTarget(name: "$name", dependencies: [$deps])],
    swiftLanguageModes: [.v6]
)
EOF
}

# 2. The service.
mkdir -p "$work/service/Sources/service"
manifest service DaxMap DaxLog >"$work/service/Package.swift"
cat >"$work/service/Sources/service/main.swift" <<'EOF'
// A storage service: a device, a range of its own, a log beside it; one error type.
import DaxLog
import DaxMap
import Glibc

func run(_ path: String) throws(DaxLogError) -> Bool {
    let device: DaxDevice
    let mine: DaxMapping
    do throws(DaxError) {
        device = try DaxDevice.createEmulated(at: path, size: 4 << 20)
        mine = try device.map(offset: 0, length: 1 << 20)
        try mine.store(UInt64(0x5eed), at: 0)
    } catch {
        throw DaxLogError(error)  // the one conversion
    }
    let log = try DaxLog.open(device: device, offset: 1 << 20, length: 3 << 20)
    let first = try log.append(Array("begin".utf8))
    let batch = try log.append(contentsOf: [Array("put a=1".utf8), Array("commit".utf8)])
    log.close()
    let again = try DaxLog.open(path: path, offset: 1 << 20, length: 3 << 20, options: .init(creation: .never))
    defer { again.close() }
    let records = try again.records(from: first)
    let stored: UInt64
    do throws(DaxError) { stored = try mine.load(at: 0) } catch { throw DaxLogError(error) }
    print("outside service: appended \(first) and \(batch), recovered \(again.recovery.recordCount) record(s): \(again.recovery)")
    return batch == 1..<3 && records.map(\.bytes) == [Array("begin".utf8), Array("put a=1".utf8), Array("commit".utf8)]
        && stored == 0x5eed
}

do throws(DaxLogError) {
    exit(try run(CommandLine.arguments[1]) ? 0 : 1)
} catch {
    print("outside service: \(error.code): \(error)")
    exit(1)
}
EOF
build_and_run service "$work/device" || { say "FAIL: the service built but did not recover its records"; exit 1; }
say "a service depending on DaxMap and DaxLog $VERSION builds and runs"

# 3. The testing products.
missing=""
for p in DaxMapTesting DaxLogTesting; do
    grep -qE "\.library\(name: \"$p\"" "$REPO/Package.swift" || missing+="${missing:+ and }$p"
done
if [ -n "$missing" ]; then
    say "SKIP: Package.swift has no product $missing yet: the package using the testing products is not built"
    exit 0
fi
mkdir -p "$work/faulttests/Sources/faulttests"
manifest faulttests DaxMap DaxLog DaxMapTesting DaxLogTesting >"$work/faulttests/Package.swift"
cat >"$work/faulttests/Sources/faulttests/main.swift" <<'EOF'
// A service's failure tests: an injected media failure, and a short crash test of a log.
import DaxLog
import DaxLogTesting
import DaxMap
import DaxMapTesting
import Glibc

let dir = CommandLine.arguments[1]
var ok = true
do {
    let device = try DaxDevice.createEmulated(at: dir + "/injected", size: 1 << 20)
    let injector = try DaxFaultInjector(device)
    try injector.inject(.media, offset: 8192)
    let mapping = try device.map()
    do throws(DaxError) {
        _ = try mapping.load(UInt64.self, at: 8192)
        print("outside tests: the injected page read back")
        ok = false
    } catch {
        print("outside tests: the injected page threw \(error.code)")
        ok = ok && error.code == .mediaFailure
    }
    let report = try await DaxLogCrashTest(.init(cycles: 2, seed: 1)).run(path: dir + "/crash")
    print("outside tests: crash test \(report)")
    ok = ok && report.recordsLost == 0 && report.recordsCorrupt == 0
} catch {
    print("outside tests: \(error)")
    ok = false
}
exit(ok ? 0 : 1)
EOF
mkdir "$work/scratch"
build_and_run faulttests "$work/scratch" || { say "FAIL: the testing package built but its checks failed"; exit 1; }
say "a package depending on DaxMapTesting and DaxLogTesting $VERSION builds and runs"
