import DaxMap

/// The one error type of DaxLog: what failed, where (device, device offset,
/// sequence number when there is one), and why. Media and removal failures
/// carry the `DaxError` the guarded access threw.
///
/// A service using DaxLog catches this type only: ``DaxLog/open(path:offset:length:options:deviceOptions:)``
/// opens the device too, and `DaxLogError(error)` converts a `DaxError` (or an error
/// widened to `any Error`). See <doc:HandlingErrors>.
public struct DaxLogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Match on it; the message is for people.
    public enum Code: String, Sendable, Hashable, CustomStringConvertible {
        /// The region holds no log (and ``DaxLog/Options/creation`` forbade
        /// making one), or holds something else: it was not overwritten.
        case notALog
        /// Both log headers fail their checksum, or the newest holds a field no
        /// writer makes (the message names it): the log cannot be opened safely.
        case corruptHeader
        /// The log was written by a newer DaxLog (its on-media version is
        /// higher than this code knows): open it with that version or later.
        case unsupportedVersion
        /// The device is shorter than the log region (a truncated file, a
        /// smaller device): the message says how many bytes it has and how
        /// many the log needs. Wait until the device is whole again and
        /// ``DaxLog/reattach(to:growingEmulatedFile:)`` (or open) again, or grow an
        /// emulated file explicitly (`reattach(growingEmulatedFile: true)`, or
        /// `DaxDevice.createEmulated(at:size:)` with the size the message gives).
        case deviceTooSmall
        /// The region is too small, misaligned or past the end of the device,
        /// or an argument is out of range (an empty batch, a record too large).
        case invalidArgument
        /// Not enough free space: ``DaxLog/discard(upTo:)`` records first.
        case full
        /// The log was sealed (the device is being removed): ``DaxLog/reattach(to:)`` once it is back.
        case sealed
        /// A store or persist of the log failed (poison, removed memory):
        /// nothing after the last acknowledged record was acknowledged;
        /// ``DaxLog/reattach(to:)`` to recover and continue.
        case failed
        /// The log is read-only.
        case readOnly
        /// The log was closed.
        case closed
        /// The record asked for is not in the log (discarded, lost, or not yet written).
        case noSuchRecord
        /// A device error (opening, mapping, a guarded access); see ``DaxLogError/underlying``.
        case device
        /// Another writable ``DaxLog`` owns the region (in this process or
        /// another, whatever path it opened): ``DaxLogError/owner`` names it
        /// when it can be seen. One region, one writer: two would lose records.
        case inUse

        public var description: String { rawValue }
    }

    /// What kind of failure this is: match on it.
    public var code: Code
    /// The operation: `open`, `append`, `discard`, `read`, `reattach`, ...
    public var operation: String
    /// The device's path.
    public var path: String?
    /// The device offset concerned, when there is one.
    public var offset: UInt64?
    /// The sequence number concerned, when there is one.
    public var sequence: UInt64?
    /// The device error behind this one, when there is one.
    public var underlying: DaxError?
    /// Why, and what to do.
    public var message: String
    /// The sequence numbers of acknowledged records the log knew lost when
    /// this was thrown (a `.failed` append: what the failure took, found and
    /// recorded before the throw; the same as ``DaxLog/lostSequences`` then).
    /// Empty when nothing is known lost.
    public var lost: [Range<UInt64>] = []
    /// For ``Code/inUse``: the process that owns the region, when it could be
    /// seen (a process of another user cannot be named without privilege).
    public var owner: Owner?

    /// The process that owns a log region.
    public struct Owner: Hashable, Sendable, CustomStringConvertible {
        /// Its process id.
        public var pid: Int32
        /// Its command name (`/proc/PID/comm`).
        public var command: String
        /// Whether it is this process (another ``DaxLog`` on the region).
        public var isThisProcess: Bool

        /// An owner from its parts: for tests of code that reports one.
        public init(pid: Int32, command: String, isThisProcess: Bool) {
            self.pid = pid
            self.command = command
            self.isThisProcess = isThisProcess
        }

        public var description: String { "process \(pid) (\(command))" + (isThisProcess ? ", this process" : "") }
    }

    /// An error with everything it says; `operation` and `message` are required because an
    /// error that does not say what failed and why is no help. For a `DaxError`, use
    /// the one conversion instead (see <doc:HandlingErrors>).
    public init(_ code: Code, operation: String, path: String? = nil, offset: UInt64? = nil,
                sequence: UInt64? = nil, underlying: DaxError? = nil, message: String) {
        self.code = code
        self.operation = operation
        self.path = path
        self.offset = offset
        self.sequence = sequence
        self.underlying = underlying
        self.message = message
    }

    public var description: String {
        var s = operation + ": "
        if let path { s += path + ": " }
        s += message
        if let offset { s += " (device offset \(offset))" }
        if let sequence { s += " (sequence \(sequence))" }
        if let underlying { s += " [\(underlying.code): \(underlying.message)]" }
        if !lost.isEmpty { s += "; lost: " + lost.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ") }
        return s
    }
}
