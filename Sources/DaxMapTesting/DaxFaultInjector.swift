internal import CDaxMap
import DaxMap
import Glibc

/// Failures on demand, for testing your own failure handling on an emulated
/// device (`DaxDeviceKind/emulated`) with real signals.
///
/// An injected failure is met the next time the range is touched, through any
/// mapping of the device in any process:
///
/// - **Real faults.** The injector maps an empty memory file `MAP_FIXED` over
///   each injected page of every open mapping, so an access there raises a
///   real SIGBUS (`BUS_ADRERR`, as a truncated file does). daxmap's handler
///   knows the page is injected and reports the injected kind: a media failure
///   (`DaxFailure/Kind/memoryFailureActionRequired` of the touched page, with
///   the page's `si_addr_lsb`; guarded accesses throw `.mediaFailure`) or
///   removed memory (`DaxFailure/Kind/removed` of the injected range;
///   `.deviceRemoved`). It goes the way a kernel fault goes — event ring,
///   classifier, the device's dispatcher — to exactly the holders of the range.
/// - **Persisted.** Injected failures are recorded in a sidecar file next to the
///   device (`<device>.daxmap-injected`), so they survive close and reopen as
///   real poison does, show in `DaxDevice/badblocks`, and meet the next
///   process that maps the device (`daxmap inject` writes the same file).
/// - **Cleared** with `clear(offset:length:)`: the device's pages are mapped
///   back in every open mapping of this process, and new mappings read them.
///   A mapping that already met a failure keeps refusing that range to guarded
///   accesses, as after real poison, until the device is mapped again.
///
/// Also on demand: the pre-remove storm XFS sends when its device goes
/// (`preRemoveStorm()`) and a removal (`remove(deadline:)`).
///
/// ```swift
/// let device = try DaxDevice.createEmulated(at: path, size: 1 << 20)
/// let injector = try DaxFaultInjector(device)
/// try injector.inject(.media, offset: 8192)        // one page
/// // ... your holder reads page 8192 and must survive ...
/// try injector.clear(offset: 8192)
/// ```
///
/// Mappings other processes already hold meet a failure they did not see
/// injected only once they map the device again. The data under an injected
/// range is kept and comes back when it is cleared.
public final class DaxFaultInjector: Sendable {
    /// The emulated device failures are injected into.
    public let device: DaxDevice
    let sidecar: InjectionSidecar

    /// Where the injected failures are persisted: next to the device's file.
    public var sidecarPath: String { sidecar.path }

    /// An injector for `device`.
    /// - Throws: `.unsupported` unless the device is emulated (on device-dax
    ///   and DAX files use `MADV_HWPOISON`, `DaxMapping/injectMemoryFailure(at:)`,
    ///   or `ndctl inject-error` where the platform supports it).
    public init(_ device: DaxDevice) throws(DaxError) {
        guard device.kind == .emulated else {
            throw DaxError(.unsupported, operation: "inject", path: device.path,
                           message: "fault injection emulates failures on emulated devices only; this is \(device.kind): poison real memory with MADV_HWPOISON (DaxMapping.injectMemoryFailure(at:), daxmap poison) or ndctl inject-error where the platform supports it")
        }
        self.device = device
        self.sidecar = InjectionSidecar(devicePath: device.path)
    }

    /// The failures injected into the device now (from its sidecar), sorted by offset.
    public func injected() throws(DaxError) -> [DaxInjectedFailure] {
        try sidecar.load(operation: "inject").failures
    }

    /// Injects a failure of `kind` into `length` bytes at device offset
    /// `offset` (one page by default), replacing what was injected there, and
    /// arms it in every open mapping of the device in this process.
    /// - Returns: the failure injected.
    /// - Throws: `.misaligned`, `.outOfRange` (zero length, past the end, an
    ///   overflowing range), `.permissionDenied` (the sidecar's folder is not
    ///   writable), `.invalidArgument` (a malformed sidecar), `.system`.
    @discardableResult
    public func inject(_ kind: DaxInjectedFailure.Kind, offset: UInt64, length: UInt64? = nil) throws(DaxError)
        -> DaxInjectedFailure
    {
        let range = try validated("inject", offset, length)
        let ranges = try sidecar.update(operation: "inject") { $0.set(kind, range) }
        try InjectionTraps.current.syncAll(device, with: ranges)
        return DaxInjectedFailure(range: range, kind: kind)
    }

    /// Clears what was injected into `length` bytes at `offset` (one page by
    /// default; `nil` offset: everything), putting the device's pages back.
    /// - Returns: the failures cleared (empty when nothing was injected there).
    /// - Throws: as `inject(_:offset:length:)`.
    @discardableResult
    public func clear(offset: UInt64, length: UInt64? = nil) throws(DaxError) -> [DaxInjectedFailure] {
        let range = try validated("clear", offset, length)
        var cleared: [DaxInjectedFailure] = []
        let ranges = try sidecar.update(operation: "clear") { cleared = $0.set(nil, range) }
        try InjectionTraps.current.syncAll(device, with: ranges)
        return cleared
    }

    /// Clears every injected failure and removes the sidecar (even a malformed one).
    /// - Returns: the failures cleared (empty when the sidecar was malformed or absent).
    @discardableResult
    public func clearAll() throws(DaxError) -> [DaxInjectedFailure] {
        let before = (try? sidecar.load(operation: "clear").failures) ?? []
        try sidecar.remove(operation: "clear")
        try InjectionTraps.current.syncAll(device, with: InjectedRanges())
        return before
    }

    /// Clears every injected failure of the emulated device at `devicePath`
    /// without opening it: removes its sidecar, even a malformed one (or a
    /// symbolic link planted in its place, never what it points at), which
    /// makes `DaxDevice/open(_:options:)` refuse the device. Mappings open in
    /// this process keep their traps until an injector of the device syncs them.
    /// Nothing is removed unless `devicePath` is a regular file.
    /// - Returns: the failures the sidecar recorded (empty when it was malformed or absent).
    /// - Throws: `.permissionDenied` (the folder is not writable), `.system`.
    @discardableResult
    public static func clearAll(devicePath: String) throws(DaxError) -> [DaxInjectedFailure] {
        guard case .success(let st) = Syscalls.status(ofPath: devicePath), (st.st_mode & S_IFMT) == S_IFREG else { return [] }
        let sidecar = InjectionSidecar(devicePath: devicePath)
        let before = (try? sidecar.load(operation: "clear").failures) ?? []
        try sidecar.remove(operation: "clear")
        return before
    }

    /// Sends this thread the storm of `BUS_MCEERR_AO` notices XFS sends when its
    /// device is unbound (`MF_MEM_PRE_REMOVE`): one real SIGBUS per page of the
    /// device's open mappings, up to 1024 pages, through daxmap's handler. The
    /// device's dispatcher recognises a pre-remove storm (at least 32 distinct
    /// extents within 20 ms) and starts a removal (`RemovalSource/memoryFailure`),
    /// as it does for the real storm.
    /// - Returns: how many notices were sent.
    /// - Throws: `.invalidArgument` when fewer than 32 pages are mapped (a
    ///   storm cannot be told from a few notices of poison), `.system`.
    @discardableResult
    public func preRemoveStorm() throws(DaxError) -> Int {
        let page = Syscalls.pageSize
        let threshold = DaxMapInternals.stormThreshold
        let mappings = device.openMappings
        var addresses: [UnsafeMutableRawPointer] = []
        for mapping in mappings {
            for at in stride(from: 0, to: mapping.count, by: page) where addresses.count < 1024 {
                addresses.append(mapping.base.pointer + at)
            }
        }
        guard addresses.count >= threshold else {
            throw DaxError(.invalidArgument, operation: "storm", path: device.path,
                           message: "a pre-remove storm needs at least \(threshold) mapped pages of the device (\(addresses.count) are mapped): fewer notices are poison, not a removal")
        }
        DaxMapInternals.prepareThread()
        let lsb = CInt(page.trailingZeroBitCount)
        // The kernel queues a storm's notices before the process runs again; a
        // sending thread can be preempted between them, so the monitor drains
        // them once all are sent, as one burst.
        DaxMapTestHooks.pauseDrains()
        defer { DaxMapTestHooks.resumeDrains() }
        for address in addresses {
            let r = cdaxmap_inject_notice(address, lsb)
            if r != 0 {
                throw DaxError(.system, operation: "rt_tgsigqueueinfo", path: device.path, errno: .init(rawValue: -r),
                               message: "cannot send the storm's BUS_MCEERR_AO notice")
            }
        }
        return addresses.count
    }

    /// Removes the device from this process on demand, as an unbind would:
    /// freeze, `DaxFailure/Kind/preRemove` to every holder, wait for release
    /// up to `deadline`, revoke what is left (`RemovalSource/injected`).
    @discardableResult
    public func remove(deadline: Duration? = nil) async -> DaxRemovalReport {
        await device.removal(source: .injected, deadline: deadline)
    }

    private func validated(_ operation: String, _ offset: UInt64, _ length: UInt64?) throws(DaxError) -> Range<UInt64> {
        let length = length ?? device.alignment
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard length > 0 else {
            throw DaxError(.outOfRange, operation: operation, path: device.path, offset: offset, length: 0,
                           message: "cannot \(operation) zero bytes")
        }
        guard !overflow, end <= device.size else {
            throw DaxError(.outOfRange, operation: operation, path: device.path, offset: offset, length: length,
                           message: "range [\(offset), \(overflow ? "2^64 + \(end)" : String(end))) reaches past the end of the device (\(device.size) bytes)")
        }
        guard offset % device.alignment == 0, length % device.alignment == 0 else {
            throw DaxError(.misaligned, operation: operation, path: device.path, offset: offset, length: length,
                           message: "offset \(offset) and length \(length) must be multiples of the device's page size \(device.alignment)")
        }
        return offset..<end
    }
}
