// swift-tools-version:6.0
import PackageDescription

// No unsafeFlags anywhere: they would forbid using DaxMap as a versioned dependency.
let package = Package(
    name: "daxmap",
    products: [
        .library(name: "DaxMap", targets: ["DaxMap"]),
        .library(name: "DaxLog", targets: ["DaxLog"]),
        // Test tools, apart from the libraries: fault injection and simulated power failure.
        .library(name: "DaxMapTesting", targets: ["DaxMapTesting"]),
        .library(name: "DaxLogTesting", targets: ["DaxLogTesting"]),
        .executable(name: "daxmap", targets: ["daxmap"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CDaxctl",
            path: "Modules/CDaxctl",
            pkgConfig: "libdaxctl",
            providers: [.apt(["libdaxctl-dev", "uuid-dev"])]
        ),
        .systemLibrary(
            name: "CNdctl",
            path: "Modules/CNdctl",
            pkgConfig: "libndctl",
            providers: [.apt(["libndctl-dev", "uuid-dev"])]
        ),
        // CXL memdevs, decoders and regions (discovery only); libcxl1 ships with ndctl.
        .systemLibrary(
            name: "CCxl",
            path: "Modules/CCxl",
            pkgConfig: "libcxl",
            providers: [.apt(["libcxl-dev"])]
        ),
        // Linked by the benchmark only, never by the library.
        .systemLibrary(
            name: "CPmem2",
            path: "Modules/CPmem2",
            pkgConfig: "libpmem2",
            providers: [.apt(["libpmem2-dev"])]
        ),
        // libpmemlog (PMDK 1.12), linked by daxlog-bench only, never by a library.
        .systemLibrary(
            name: "CPmemlog",
            path: "Modules/CPmemlog",
            pkgConfig: "libpmemlog",
            providers: [.apt(["libpmemlog-dev"])]
        ),
        // The only C: signal handler, range table, event ring, guarded copies, flush asm.
        .target(name: "CDaxMap"),
        // C for tests only (signal raisers, stress drivers): never in the library.
        .target(
            name: "CDaxMapTesting",
            dependencies: ["CDaxMap"],
            path: "Tests/CDaxMapTesting"
        ),
        // A pthread-mutex lock that ThreadSanitizer understands (Synchronization.Mutex
        // it cannot see on Linux); shared by the library and the CLI, not a product.
        .target(name: "DaxMapSync"),
        .target(
            name: "DaxMap",
            dependencies: [
                "CDaxMap", "CDaxctl", "CNdctl", "CCxl", "DaxMapSync",
                .product(name: "SystemPackage", package: "swift-system"),
                // CoreMetrics, not Metrics: Metrics imports Foundation (uuid_* clashes with libdaxctl).
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // DaxMapTesting's loader: a constructor that registers the product's hooks
        // with DaxMap, so linking the product is enough (see CDaxMapInject.h).
        .target(name: "CDaxMapTestingHooks", dependencies: ["CDaxMap"]),
        // Fault injection on emulated devices and simulated persistence domains,
        // built on DaxMap's package-level hooks (Sources/DaxMap/Hooks).
        .target(
            name: "DaxMapTesting",
            dependencies: [
                "DaxMap", "CDaxMap", "CDaxMapTestingHooks", "DaxMapSync",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // CRC-32C (SSE4.2 through a target attribute, portable fallback) for DaxLog.
        .target(name: "CDaxLog"),
        // The record log, built only on DaxMap's public API.
        .target(name: "DaxLog", dependencies: [
            "DaxMap", "CDaxLog", "DaxMapSync",
            .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // Power-failure testing of DaxLog (`daxmap crash-test`).
        .target(name: "DaxLogTesting", dependencies: ["DaxLog", "DaxMap", "DaxMapTesting"]),
        // The CLI's SIGINT/SIGTERM handler: C, so no Swift runs in a signal handler.
        .target(name: "CDaxmapCLI"),
        .executableTarget(
            name: "daxmap",
            dependencies: [
                "CDaxmapCLI",
                "DaxMap", "DaxLog", "DaxMapSync", "DaxMapTesting", "DaxLogTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "daxmap-bench",
            dependencies: ["DaxMap", "CPmem2", "CDaxMap"]
        ),
        // `make bench-log`: DaxLog against libpmemlog, append+persist records/s.
        .executableTarget(
            name: "daxlog-bench",
            dependencies: ["DaxLog", "DaxMap", "CPmemlog"]
        ),
        // The README's "Using the library", compiled and run by ExampleTests (public API only).
        .executableTarget(
            name: "daxmap-example",
            dependencies: ["DaxMap"],
            path: "Examples/Journal"
        ),
        // The DocC article's complete example (Sources/DaxLog/DaxLog.docc/WritingAheadWithDaxLog.md),
        // compiled and run by LogExampleTests, compared byte for byte with the article.
        .executableTarget(
            name: "daxlog-example",
            dependencies: ["DaxLog", "DaxMap"],
            path: "Examples/LogExample"
        ),
        // A child process for tests that must die: foreign SIGBUS, terminate policy.
        .executableTarget(
            name: "daxmap-probe",
            dependencies: ["DaxMap", "CDaxMap", "CDaxMapTesting", .product(name: "Logging", package: "swift-log")],
            path: "Tests/DaxMapProbe"
        ),
        // A child that appends to a DaxLog and prints each acknowledged sequence: killed by tests.
        .executableTarget(
            name: "daxlog-probe",
            dependencies: ["DaxLog", "DaxMap"],
            path: "Tests/DaxLogProbe"
        ),
        // The fuzzer's parsers, mutations and checks (`make fuzz`, and a short pass in the tests).
        .target(name: "DaxFuzzKit", dependencies: ["DaxLog", "DaxMap", "DaxMapTesting", "CDaxLog"], path: "Tests/FuzzKit"),
        // `make fuzz`: seeded mutation cases of every parser in DaxFuzzKit.
        .executableTarget(name: "daxmap-fuzz", dependencies: ["DaxFuzzKit"], path: "Tests/Fuzz"),
        // Scratch folders, bounded waits and child processes for both test targets.
        .target(name: "DaxMapTestKit", path: "Tests/TestKit"),
        .testTarget(
            name: "DaxLogTests",
            dependencies: ["DaxLog", "DaxMap", "DaxMapTesting", "DaxLogTesting", "CDaxLog", "DaxMapSync", "DaxMapTestKit",
                           "DaxFuzzKit"]
        ),
        .testTarget(
            name: "DaxMapTests",
            dependencies: [
                "DaxMap", "DaxMapTesting", "CDaxMap", "CDaxMapTesting", "DaxMapSync", "DaxLog", "DaxLogTesting", "DaxMapTestKit", "DaxFuzzKit",
                // An in-memory backend for TelemetryTests (the only bootstrap of the test process).
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
