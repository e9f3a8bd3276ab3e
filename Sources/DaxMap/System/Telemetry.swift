internal import Logging
internal import CoreMetrics

/// daxmap's swift-log and swift-metrics output: one call per event from the
/// fault path (monitor, dispatcher, removal).
///
/// Nothing is emitted unless the application bootstraps a backend:
/// - swift-metrics' default factory is `NOOPMetricsHandler`: nothing recorded.
/// - swift-log's implicit default (a `StreamLogHandler` to standard error at
///   `.info`) would print daxmap's warnings into a program's standard error (and
///   into the CLI's output): ``DaxLogging`` tells it from an explicit bootstrap.
///
/// Loggers and metrics are made per event (the fault path is rare), so a
/// backend bootstrapped after daxmap started is still used.
///
/// Only `CoreMetrics`, never `Metrics` (which imports Foundation, whose
/// `uuid_*` symbols clash with libdaxctl's).
enum Telemetry {
    static let label = "daxmap"

    /// The `daxmap` logger, or nil while swift-log has no backend.
    static var logger: Logger? { DaxLogging.logger(label: label) }

    static func range(_ r: Range<UInt64>) -> Logger.MetadataValue {
        "[\(r.lowerBound), \(r.upperBound))"
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s.multipliedReportingOverflow(by: 1_000_000_000).partialValue + atto / 1_000_000_000
    }

    // MARK: - Events

    /// One fault record from the handler's ring, classified.
    static func fault(_ fault: DaxFault, kind: DaxDeviceKind) {
        Counter(label: "daxmap_faults_total", dimensions: [("cause", fault.cause.rawValue)]).increment()
        logger?.warning("fault", metadata: [
            "device": "\(fault.device)", "range": range(fault.range), "kind": "\(fault.cause.rawValue)",
            "source": "signal", "device_kind": "\(kind.rawValue)", "mapping": "\(fault.mappingID)",
            "guarded": "\(fault.guarded)", "replaced": "\(fault.replaced)",
        ])
    }

    /// The ring was full: `count` fault records were lost (the failures are reconciled from the range table).
    static func dropped(_ count: UInt64) {
        Counter(label: "daxmap_ring_drops_total").increment(by: Int64(clamping: count))
        logger?.error("fault records dropped: the event ring was full; reconciling from the range table",
                      metadata: ["count": "\(count)", "source": "ring"])
    }

    /// Holders were told about a failure.
    static func notified(_ failure: DaxFailure, holders: Int) {
        Counter(label: "daxmap_notifications_total", dimensions: [("kind", failure.kind.rawValue)]).increment(by: Int64(holders))
        logger?.info("holders notified", metadata: [
            "device": "\(failure.device)", "range": range(failure.range), "kind": "\(failure.kind.rawValue)",
            "source": failure.reconstructed ? "reconciled" : "fault", "holders": "\(holders)",
        ])
    }

    static func removalStarted(device: String, source: RemovalSource, deadline: Duration) {
        Counter(label: "daxmap_removals_total", dimensions: [("source", source.rawValue)]).increment()
        logger?.notice("removal started", metadata: [
            "device": "\(device)", "kind": "removal", "source": "\(source.rawValue)", "deadline": "\(deadline)",
        ])
    }

    static func removalCompleted(_ report: DaxRemovalReport) {
        Timer(label: "daxmap_removal_duration", dimensions: [("source", report.source.rawValue)])
            .recordNanoseconds(nanoseconds(report.duration))
        logger?.notice("removal completed", metadata: [
            "device": "\(report.device)", "kind": "removal", "source": "\(report.source.rawValue)",
            "duration": "\(report.duration)", "holders_notified": "\(report.holdersNotified)",
            "holders_answered": "\(report.holdersAnswered)", "mappings_released": "\(report.mappingsReleased)",
            "mappings_revoked": "\(report.mappingsRevoked)",
        ])
    }
}
