/// How daxmap learned that a device is going.
public enum RemovalSource: String, Sendable, Hashable, CustomStringConvertible {
    /// A kernel uevent (unbind/remove of the device or a parent).
    case uevent
    /// A sysfs poll saw the device or its driver disappear (netlink refused).
    case sysfs
    /// `BUS_MCEERR_AO` over the device (the fsdax pre-remove storm).
    case memoryFailure
    /// `BUS_ADRERR` on a device that has vanished (node gone, file truncated to nothing).
    case accessError
    /// The program asked for it (``DaxDevice/beginRemoval(deadline:)``).
    case request
    /// A removal injected on demand (DaxMapTesting's `DaxFaultInjector.remove(deadline:)`).
    case injected
    /// An operator's planned removal (``DaxRetirement/retire(path:deadline:then:)``,
    /// `daxmap retire`), possibly from another process.
    case `operator`
    /// A simulated power failure (DaxMapTesting's `DaxPersistenceSimulator`): no warning, so
    /// every mapping is revoked first and holders are told ``DaxFailure/Kind/removed``.
    case powerFailure

    /// No warning came: mappings are revoked before holders are told, and told
    /// the memory is gone rather than asked to release it.
    public var isAbrupt: Bool { self == .powerFailure }

    public var description: String { rawValue }
}
