/// What ``DaxDevice/deepFlush(range:)`` did.
public struct DaxDeepFlush: Sendable, Hashable, CustomStringConvertible {
    /// How the device's writes were pushed past the memory controller's queues.
    public enum Method: String, Sendable, Hashable, CustomStringConvertible {
        /// libndctl's region deep flush (sysfs `deep_flush` of the NVDIMM region):
        /// the write-pending queues of its DIMMs are flushed.
        case regionDeepFlush
        /// `fdatasync` of a file on a DAX mount: the pmem driver flushes its
        /// region (the kernel's deep flush) as part of the file's sync.
        case fileSync
        /// Nothing to do: an emulated device (its persistence is the page
        /// cache's `msync`, which ``DaxMapping/persist(at:count:)`` already does).
        case notApplicable

        public var description: String { rawValue }
    }

    /// How the writes were pushed out.
    public var method: Method
    /// The NVDIMM region flushed, when one was.
    public var region: String?
    /// What was done, or why nothing was, for people.
    public var detail: String

    /// A result from its parts: for tests of code that reads one.
    public init(method: Method, region: String?, detail: String) {
        self.method = method
        self.region = region
        self.detail = detail
    }

    public var description: String { "\(method): \(detail)" }
}
