# daxmap: the two commands a newcomer types are `make run` and `make test`.
# Both install what is missing first (Debian: apt-get, as root or through sudo).

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Build-time and run-time packages: the system libraries, their headers, and
# libpmem2 for the side-by-side benchmark; python3 for the retire tests' plain mapper.
DEB_PACKAGES := pkg-config libdaxctl-dev libndctl-dev libcxl-dev uuid-dev libpmem2-dev libpmemlog-dev python3
# The qemu harness also needs these on the host (the guest kernel and busybox
# are fetched with apt-get download, never installed).
QEMU_PACKAGES := qemu-system-x86 kmod xfsprogs ndctl daxctl cpio xz-utils e2fsprogs stress-ng python3

.PHONY: all deps bench-deps qemu-deps stress-deps docs-deps build release run test stress fuzz tsan asan bench bench-log bench-retire qemu-test soak docs docs-test clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# fio (Debian's 3.33, libpmem and dev-dax engines) for `make bench`'s comparison.
bench-deps:
	@dpkg-query -W -f='$${Status}' fio 2>/dev/null | grep -q 'install ok installed' || \
	  { echo "installing: fio"; $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q fio; }

qemu-deps:
	@missing=$$(for p in $(QEMU_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The main job on the embedded default: the demo on an emulated device.
run: release
	$(SWIFT) run -c release --skip-build daxmap demo

test: deps
	$(SWIFT) test
	./qemu/lib/verdict-test.sh     # the qemu harness's verdict rules, on made-up consoles
	./qemu/lib/vm-test.sh          # its VM watchdogs, with a made-up qemu
	./qemu/lib/scenarios-test.sh   # the scenario headers, and qemu/README's table made from them
	./Tests/lint/libc-calls.sh     # no libc call outside the syscall layer (Sources/DaxMap/System)
	SWIFT=$(SWIFT) ./Tests/Docs/undocumented         # every public symbol has DocC, every public type a topic
	SWIFT=$(SWIFT) ./Tests/Outside/outside-test.sh   # outside packages build against DaxMap, DaxLog (and the testing products) by version

# The load-sensitive suites (host soak, DaxLog power failure, crash and kill, the log's
# faults, retire, the fault path) RUNS times (default 5), each beside 2x cores busy threads
# (stress-ng --cpu). Per-run output in $(STRESS_OUT)/run-N.log; the failing runs' tails are
# printed, then "stress: N passed, M failed"; non-zero if any failed. CYCLES: host soak cycles.
STRESS_OUT ?= .stress-out
STRESS_SUITES := HostSoakTests|RotationUnderLoadTests|StaleFailureTests|FailureEpochTests|DaxLogPowerFailureTests|DaxLogKillTests|DaxLogFaultTests|DaxLogRestartTests|DaxLogLossTests|LogOwnershipTests|CrashTestCommandTests|RetireTests|FaultPathTests|FaultTests
stress-deps:
	@dpkg-query -W -f='$${Status}' stress-ng 2>/dev/null | grep -q 'install ok installed' || \
	  { echo "installing: stress-ng"; $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q stress-ng; }

stress: deps stress-deps
	$(SWIFT) build --build-tests
	@RUNS=$(or $(RUNS),5) CYCLES=$(CYCLES) STRESS_OUT=$(STRESS_OUT) SWIFT=$(SWIFT) ./Tests/Load/stress '$(STRESS_SUITES)'

# The threaded tests under ThreadSanitizer: writers with faults and removals,
# the signal tests, the uevent listener, the hold/verify workload, the range-table stress,
# the simulated persistence domain (eight threads to one simulated cache), the parallel copy
# engine (workers spinning on atomics between parts).
tsan: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter 'Concurrency|FaultTests|NoticeStorm|UEventListener|HoldVerify|RecoverableCopy|ParallelCopy|RangeTable|PowerFailureSimulation|HostSoak|RotationUnderLoad|StaleFailure|FailureEpoch|LogOwnership|RuntimeTests'

# The whole suite under AddressSanitizer + LeakSanitizer, in its own scratch path.
# Sanitizer options travel in the environment, so the CLI tests' child processes
# (daxmap, daxmap-probe, daxmap-example) run with the same ones.
# - No ASan suppression: the start-up odr-violation was a miscompiled object, and
#   check-objects now fails the build on one (see Tests/Sanitizers/check-objects).
# - LSan: Tests/Sanitizers/lsan.supp, one entry, the reason next to it.
# - --disable-xctest: the package has only Swift Testing tests; the empty XCTest leg
#   would report libXCTest's own XCTestSuite <-> XCTestSuiteRun retain cycle at exit
#   (XCTest.testRun holds the run, XCTestRun.test holds the suite) and fail the run.
# - handle_sigbus=0: ASan's own SIGBUS report would sit behind daxmap's handler, where a
#   process has the Swift runtime's; the forged-signal tests check what follows that one.
# - SWIFT_BACKTRACE=enable=no: the Swift runtime's crash handler reads the crashed process's
#   memory by design (CrashHandlerLinux.cpp memserver_read), which ASan reports as an overflow
#   in the toolchain; the forged-signal tests meet it behind daxmap's handler under `make test`.
ASAN_ENV := SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:handle_sigbus=0 LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp
asan: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	./Tests/Sanitizers/check-objects .build-asan
	$(ASAN_ENV) $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan --disable-xctest

# The fuzzer: FUZZ_CASES (default 1,000,000) seeded mutation cases of every parser in
# Tests/FuzzKit (targets json, uevent, maps, sidecar, retire-request; DaxLog recovery: bit flips, boundary values in every header and record
# field, truncated and extended logs, failed ranges; 1 case in 1000 through a real file and
# mapping). No crash, no hang (2 s a case), no record returned that was not written.
# FUZZ_SEED to vary; a failure prints its case number: --first N --cases 1 replays it.
fuzz: deps
	$(SWIFT) build -c release --product daxmap-fuzz
	$(SWIFT) run -c release --skip-build daxmap-fuzz --cases $(or $(FUZZ_CASES),1000000) --seed $(or $(FUZZ_SEED),2026)

# Benchmarks print numbers; they never assert. JSON=1 prints only the JSON array
# on standard output (the build's own output goes to standard error). Then fio on the
# same target, the log benchmark (its table on standard error, its rows in log.json),
# and a plot of all three in $(BENCH_OUT)/bench.svg (copy.json, fio.json and log.json beside it):
# the copy curves, and beside them DaxLog / libpmemlog for every log row.
BENCH_OUT ?= .bench-out
bench:
	@$(MAKE) --no-print-directory release bench-deps >&2
	@mkdir -p $(BENCH_OUT)
	@$(SWIFT) run -c release --skip-build daxmap-bench $(if $(JSON),--json) $(if $(TARGET),--target $(TARGET)) --json-file $(BENCH_OUT)/copy.json
	@python3 Benchmarks/fio_bench.py $(if $(TARGET),--target $(TARGET)) --out $(BENCH_OUT)/fio.json $(if $(JSON),>&2)
	@$(SWIFT) run -c release --skip-build daxlog-bench --json $(if $(TARGET),--target $(TARGET)) > $(BENCH_OUT)/log.json
	@python3 Benchmarks/plot_bench.py $(BENCH_OUT)/copy.json $(BENCH_OUT)/fio.json $(BENCH_OUT)/log.json $(BENCH_OUT)/bench.svg

# DaxLog against libpmemlog: append+persist records/s and per-call latency at
# 64 B..4 KiB, single and batched (16), and 2 and 4 threads appending 256 B; at page
# granularity (msync for both) and at cache-line granularity (libpmemlog under
# PMEM_IS_PMEM_FORCE=1, DaxLog with the benchmarking-only unsafeCacheLinePersistence)
# on /dev/shm. TARGET: a directory (e.g. a DAX mount), /dev/daxX.Y or a file;
# default /dev/shm; a DAX target is measured at its own granularity only.
# JSON=1 prints only the array of {record, batch, threads, granularity, daxlog_rps,
# libpmemlog_rps, daxlog_p50_us, daxlog_p99_us, libpmemlog_p50_us, libpmemlog_p99_us}.
bench-log:
	@$(MAKE) --no-print-directory release >&2
	@$(SWIFT) run -c release --skip-build daxlog-bench $(if $(JSON),--json) $(if $(TARGET),--target $(TARGET))

# Planned (retire) of PROCESSES (50) idle and busy daxmap hold processes x HOLDERS (1), and
# unplanned (truncation) removal of the busy ones: retire wall time, exits p50 and max, fault
# signals; then the cost of a /proc scan beside SLEEPERS (1000) sleeping processes it starts
# and reaps. JSON=1 prints only the JSON array.
bench-retire:
	@$(MAKE) --no-print-directory release >&2
	@python3 Benchmarks/retire_bench.py .build/release/daxmap --processes $(or $(PROCESSES),50) --holders $(or $(HOLDERS),1) --sleepers $(or $(SLEEPERS),1000) $(if $(JSON),--json)

# The kernel matrix: every scenario on Debian's 6.1, 6.12 and 7.2 (KERNELS="6.12" to
# choose), the removal scenarios also as control runs without daxmap (RUNS=daxmap for
# daxmap's runs only). KERNEL=bzImage [MODULES=dir] runs one kernel of your own instead.
qemu-test: qemu-deps release
	./qemu/run $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(KERNELS),--kernels "$(KERNELS)") $(if $(RUNS),--runs $(RUNS)) $(if $(KERNEL),--kernel $(KERNEL)) $(if $(MODULES),--modules $(MODULES)) $(if $(DAXMAP),--daxmap $(DAXMAP))

# The soak: CYCLES removal cycles (default 25) in one VM on Debian's 6.12 (KERNELS= to
# choose); JSON=1 prints only its JSON summary on standard output.
soak:
	@$(MAKE) --no-print-directory qemu-deps release >&2
	@JSON=$(JSON) ./qemu/run --soak $(or $(CYCLES),25) $(if $(KERNELS),--kernels "$(KERNELS)") $(if $(KERNEL),--kernel $(KERNEL)) $(if $(MODULES),--modules $(MODULES)) $(if $(DAXMAP),--daxmap $(DAXMAP))

# The DocC site for DaxMap and DaxLog in $(DOCS_OUT)/ (DaxMap/, DaxLog/, an index.html
# linking both), transformed for static hosting; any DocC warning fails it. Symbol graphs
# come from a build in its own scratch path, kept there (.build-docs/symbol-graphs: the flags
# would otherwise rebuild .build, and a no-op build writes no graphs), then docc (shipped with the toolchain) converts each catalog. Then docs-test.
DOCS_OUT ?= .docs-out
DOCC ?= $(or $(shell command -v docc),$(dir $(realpath $(shell command -v $(SWIFT))))docc)
docs: deps
	@mkdir -p .build-docs/symbol-graphs
	$(SWIFT) build --scratch-path .build-docs --target DaxLogTesting \
	  -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc $(CURDIR)/.build-docs/symbol-graphs
	@set -e; for m in DaxMap DaxLog DaxMapTesting DaxLogTesting; do \
	  rm -rf $(DOCS_OUT)/$$m $(DOCS_OUT)/graphs-$$m; mkdir -p $(DOCS_OUT)/graphs-$$m; \
	  cp .build-docs/symbol-graphs/$$m.symbols.json $$(ls .build-docs/symbol-graphs/$$m@Dax*.symbols.json 2>/dev/null) $(DOCS_OUT)/graphs-$$m/; \
	  echo "docc convert $$m"; \
	  $(DOCC) convert Sources/$$m/$$m.docc --additional-symbol-graph-dir $(DOCS_OUT)/graphs-$$m \
	    --output-dir $(DOCS_OUT)/$$m --transform-for-static-hosting --hosting-base-path $$m \
	    --fallback-display-name $$m --fallback-bundle-identifier org.daxmap.$$m --warnings-as-errors; \
	done
	@printf '%s\n' '<!doctype html><meta charset="utf-8"><title>daxmap documentation</title>' \
	  '<h1>daxmap documentation</h1><ul><li><a href="DaxMap/documentation/daxmap/">DaxMap</a></li>' \
	  '<li><a href="DaxLog/documentation/daxlog/">DaxLog</a></li>' \
	  '<li><a href="DaxMapTesting/documentation/daxmaptesting/">DaxMapTesting</a></li>' \
	  '<li><a href="DaxLogTesting/documentation/daxlogtesting/">DaxLogTesting</a></li></ul>' \
	  '<p>Serve this folder over HTTP (python3 -m http.server): DocC pages load their content with JavaScript.</p>' \
	  > $(DOCS_OUT)/index.html
	@$(MAKE) --no-print-directory docs-test

# Opens the built site in headless Chromium (installed if missing) over a local HTTP server:
# the landing pages and an article must render; screenshots in $(DOCS_OUT)/screenshots/.
docs-deps:
	@command -v chromium >/dev/null 2>&1 || { echo "installing: chromium"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

docs-test: docs-deps
	python3 Tests/Docs/browser-check $(DOCS_OUT)

clean:
	rm -rf .build .build-tsan .build-asan .build-docs $(DOCS_OUT)
