public import Logging
import Synchronization

/// Whether daxmap and DaxLog log through swift-log.
///
/// They log to the backend the application bootstrapped, and stay silent on
/// swift-log's implicit default (a `StreamLogHandler` to standard error at
/// `.info`), which would print their warnings into every program's standard
/// error. swift-log (1.16) does not say whether `LoggingSystem.bootstrap` was
/// called (apple/swift-log#362), and a `StreamLogHandler` bootstrapped
/// explicitly is built exactly like the default, so daxmap decides this way:
/// - any handler other than a `StreamLogHandler`: bootstrapped, logged to;
/// - a `StreamLogHandler` configured unlike the default (another level,
///   metadata, a metadata provider): bootstrapped, logged to;
/// - a `StreamLogHandler` exactly like the default: logged to only when the
///   application bootstrapped it through ``bootstrap(_:)``, which tells daxmap.
public enum DaxLogging {
    private static let explicitlyBootstrapped = Atomic<Bool>(false)

    /// `LoggingSystem.bootstrap(factory)`, remembering that the application
    /// bootstrapped swift-log, so daxmap logs even to a plain
    /// `StreamLogHandler` (e.g. `DaxLogging.bootstrap(StreamLogHandler.standardError)`).
    /// Like swift-log's, call it at most once a process.
    public static func bootstrap(_ factory: @escaping @Sendable (String) -> any LogHandler) {
        LoggingSystem.bootstrap(factory)
        explicitlyBootstrapped.store(true, ordering: .releasing)
    }

    /// A `Logger` labelled `label` on the bootstrapped backend, or nil when
    /// swift-log has none (its implicit default): what daxmap and DaxLog log through.
    package static func logger(label: String) -> Logger? {
        enabled(Logger(label: label))
    }

    /// `logger`, unless its handler is swift-log's implicit default.
    static func enabled(_ logger: Logger) -> Logger? {
        guard let stream = logger.handler as? StreamLogHandler,
              !explicitlyBootstrapped.load(ordering: .acquiring) else { return logger }
        let likeDefault = stream.logLevel == .info && stream.metadata.isEmpty && stream.metadataProvider == nil
        return likeDefault ? nil : logger
    }
}
