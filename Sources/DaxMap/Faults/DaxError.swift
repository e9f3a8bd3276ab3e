import SystemPackage

/// The one error type of DaxMap.
///
/// Every error names what failed (`operation`), the path or device it concerns,
/// the offset and length where they apply, the `errno` where the system gave
/// one, and a message that says why and what to do. It prints as
/// `operation: path: message (errno: N)`.
public struct DaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Match on it; the message is for people.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, e.g. `deviceRemoved`: stable, for logs and JSON.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The path does not exist.
        public static let notFound = Code("notFound")
        /// The path exists but is not something daxmap can map (a directory, a
        /// character device that is not device-dax, a socket...).
        public static let notADaxDevice = Code("notADaxDevice")
        /// A block device such as `/dev/pmem0`: mount it with `-o dax` or make it devdax.
        public static let blockDeviceNotMappable = Code("blockDeviceNotMappable")
        /// Opening or mapping was refused (EACCES/EPERM).
        public static let permissionDenied = Code("permissionDenied")
        /// Something else still uses it (EBUSY: a mount with a process's working
        /// directory or an open file in it).
        public static let busy = Code("busy")
        /// A device-dax instance in system-ram mode: `kmem` hot-plugged its memory as
        /// system RAM, so there is nothing to map. Use the memory through its NUMA node,
        /// or give it back as devdax (`daxctl offline-memory`, then
        /// `daxctl reconfigure-device --mode=devdax`).
        public static let systemRAM = Code("systemRAM")
        /// An offset or length is not a multiple of the device alignment.
        public static let misaligned = Code("misaligned")
        /// A range is empty, or reaches past the end of the device or mapping.
        public static let outOfRange = Code("outOfRange")
        /// `MAP_SYNC` was required but the file system or kernel refused it.
        public static let mapSyncUnsupported = Code("mapSyncUnsupported")
        /// A size or option is invalid (for example creating an emulated device of size 0).
        public static let invalidArgument = Code("invalidArgument")
        /// Poisoned memory was consumed (`BUS_MCEERR_AR`/`AO`).
        public static let mediaFailure = Code("mediaFailure")
        /// The device is being removed: new mappings are refused until it is gone or back.
        public static let deviceGoing = Code("deviceGoing")
        /// The memory is no longer backed: the device was removed or the file truncated (`BUS_ADRERR`).
        public static let deviceRemoved = Code("deviceRemoved")
        /// The mapping was revoked after a removal; its addresses are a `PROT_NONE` reservation.
        public static let revoked = Code("revoked")
        /// The device or mapping was closed by its owner.
        public static let closed = Code("closed")
        /// Another `sigaction` replaced daxmap's SIGBUS/SIGSEGV handler: faults
        /// in new mappings could not be handled (see ``DaxMonitor/reinstallHandler()``).
        public static let handlerDisplaced = Code("handlerDisplaced")
        /// The range table of the signal handler is full.
        public static let tooManyMappings = Code("tooManyMappings")
        /// The device, bus or kernel cannot do this (for example fault injection
        /// on real hardware, clearing poison on a bus without the clear-error
        /// command): distinct from a failed attempt (`.system`).
        public static let unsupported = Code("unsupported")
        /// Any other system error; see `errno`.
        public static let system = Code("system")
    }

    /// What kind of failure this is: match on it.
    public var code: Code
    /// The system call or operation that failed, e.g. `open`, `mmap`, `map`, `read`.
    public var operation: String
    /// The path or device concerned, when there is one.
    public var path: String?
    /// The device offset concerned, when there is one.
    public var offset: UInt64?
    /// The length concerned, when there is one.
    public var length: UInt64?
    /// The errno the system reported, when there was one.
    public var errno: Errno?
    /// Why it failed, and what to do about it.
    public var message: String

    /// An error with everything it says; `operation` and `message` are required because
    /// an error that does not say what failed and why is no help. Holders and test doubles
    /// throw these too.
    public init(
        _ code: Code, operation: String, path: String? = nil, offset: UInt64? = nil,
        length: UInt64? = nil, errno: Errno? = nil, message: String
    ) {
        self.code = code
        self.operation = operation
        self.path = path
        self.offset = offset
        self.length = length
        self.errno = errno
        self.message = message
    }

    public var description: String {
        var s = operation + ": "
        if let path { s += path + ": " }
        s += message
        if let errno { s += " (errno: \(errno.rawValue))" }
        return s
    }
}

extension DaxError.Code {
    /// Stable name for JSON output and logs.
    public var name: String { rawValue }
}
