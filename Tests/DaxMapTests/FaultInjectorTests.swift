import CDaxMap
import Glibc
import Testing
@testable import DaxMap
@testable import DaxMapTesting

/// DaxFaultInjector on emulated devices: real SIGBUS at the injected pages,
/// classified as the injected kind, told through the device's one dispatcher.
@Suite struct FaultInjectorTests {
    private let page = UInt64(pageSize)

    private func setup(_ dir: TemporaryDirectory, pages: UInt64 = 64) throws -> (DaxDevice, DaxMapping, RecordingHolder) {
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: pages * page)
        let holder = RecordingHolder("h")
        let mapping = try device.map(holder: holder)
        holder.adopt(mapping)
        try mapping.fill(0xC3, at: 0, count: mapping.count)
        return (device, mapping, holder)
    }

    private func read(_ mapping: DaxMapping, at offset: UInt64, count: Int = 16) -> Result<[UInt8], DaxError> {
        var bytes = [UInt8](repeating: 0, count: count)
        do {
            try bytes.withUnsafeMutableBytes { try mapping.read(at: Int(offset), into: $0) }
            return .success(bytes)
        } catch { return .failure(asDax(error)) }
    }

    private func asDax(_ error: any Error) -> DaxError { error as! DaxError }

    @Test func theFaultIsARealBusAdrerrReportedAsAMemoryFailureOfThePage() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        let events = device.events()
        try DaxFaultInjector(device).inject(.media, offset: 9 * page, length: 3 * page)
        #expect(InjectionTraps.current.traps(of: mapping).map(\.range) == [(9 * page)..<(12 * page)])

        guard case .failure(let error) = read(mapping, at: 10 * page + 8) else {
            Issue.record("no fault on the injected page")
            return
        }
        #expect(error.code == .mediaFailure)
        #expect(error.offset == 10 * page && error.length == page) // the touched page, as the kernel reports poison
        #expect(error.message.contains("injected"))
        var fault: DaxFault?
        for await event in events {
            if case .fault(let f) = event { fault = f; break }
        }
        #expect(fault?.signal == SIGBUS)
        #expect(fault?.code == BUS_ADRERR_) // what the kernel raised: the trap is real
        #expect(fault?.injected == true)
        #expect(fault?.cause == .memoryFailureActionRequired)
        #expect(fault?.addressLSB == CInt(page.trailingZeroBitCount))
        #expect(fault?.guarded == true)
        let told = await holder.waitFor(.memoryFailureActionRequired)
        #expect(told?.range == (10 * page)..<(11 * page))
        #expect(mapping.failures == [DaxFailedRange(range: (10 * page)..<(11 * page), kind: .poison)])
        // The rest of the mapping is untouched: no removed tail, the next pages read.
        #expect(try read(mapping, at: 12 * page).get() == [UInt8](repeating: 0xC3, count: 16))
        #expect(device.lifecycle == .alive)
    }

    @Test func anUnguardedTouchIsAbsorbedByThePolicyAndTheHolderIsTold() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        try DaxFaultInjector(device).inject(.media, offset: 4 * page)
        let value = mapping.withUnsafeMutableBytes { $0[Int(4 * page) + 1] } // a raw load: real SIGBUS, replaced page
        #expect(value == 0) // anonymous memory, not the device's 0xC3
        let told = await holder.waitFor(.memoryFailureActionRequired)
        #expect(told?.range == (4 * page)..<(5 * page))
        #expect(Set(mapping.failures.map(\.kind)) == [.poison, .pagesLost])
        let again = read(mapping, at: 4 * page)
        #expect((try? again.get()) == nil, "guarded reads keep refusing the page")
    }

    @Test func injectionArmsMappingsAlreadyOpenInEveryDeviceOfTheFile() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        let twin = try DaxDevice.open(dir.file("dev"))
        let other = RecordingHolder("twin")
        let twinMapping = try twin.map(offset: 8 * page, length: 8 * page, holder: other)
        let injector = try DaxFaultInjector(twin)
        try injector.inject(.removed, offset: 10 * page, length: 2 * page)
        #expect(device.badblocks == [(10 * page)..<(12 * page)])

        let e1 = read(twinMapping, at: 3 * page)
        let e2 = read(mapping, at: 11 * page)
        #expect((try? e1.get()) == nil && (try? e2.get()) == nil)
        if case .failure(let e) = e2 { #expect(e.code == .deviceRemoved) }
        #expect(await holder.waitFor(.removed)?.range == (10 * page)..<(12 * page))
        #expect(await other.waitFor(.removed)?.range == (10 * page)..<(12 * page))
        #expect(holder.failures.filter { $0.kind == .removed }.count == 1)
        // Outside the injected range everything still reads.
        #expect(try read(mapping, at: 12 * page).get() == [UInt8](repeating: 0xC3, count: 16))
        withExtendedLifetime(twinMapping) {}
    }

    @Test func clearingPutsTheDevicesPageBackInAMappingThatDidNotTouchIt() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, _) = try setup(dir)
        let injector = try DaxFaultInjector(device)
        try injector.inject(.media, offset: 2 * page, length: 4 * page)
        try injector.inject(.removed, offset: 3 * page) // the later injection wins there
        #expect(try injector.injected() == [
            DaxInjectedFailure(range: (2 * page)..<(3 * page), kind: .media),
            DaxInjectedFailure(range: (3 * page)..<(4 * page), kind: .removed),
            DaxInjectedFailure(range: (4 * page)..<(6 * page), kind: .media),
        ])
        let cleared = try injector.clear(offset: 2 * page, length: 3 * page)
        #expect(cleared.count == 3)
        #expect(try injector.injected() == [DaxInjectedFailure(range: (5 * page)..<(6 * page), kind: .media)])
        for p in [2, 3, 4] { #expect(try read(mapping, at: UInt64(p) * page).get() == [UInt8](repeating: 0xC3, count: 16)) }
        if case .failure(let e) = read(mapping, at: 5 * page) { #expect(e.code == .mediaFailure) } else {
            Issue.record("page 5 is still injected")
        }
        try injector.clearAll()
        #expect(!(access(injector.sidecarPath, F_OK) == 0))
        #expect(device.badblocks.isEmpty)
    }

    @Test func aPreRemoveStormOnDemandRemovesTheDevice() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        let events = device.events()
        let sent = try DaxFaultInjector(device).preRemoveStorm()
        #expect(sent == 64)
        let report = await removalReport(events)
        #expect(report?.source == .memoryFailure)
        #expect(report?.holdersNotified == 1)
        #expect(holder.failures.map(\.kind) == [.preRemove])
        #expect(mapping.state == .closed)
        #expect(device.lifecycle == .gone)
    }

    @Test func aStormNeedsEnoughMappedPages() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, _, _) = try setup(dir, pages: 8)
        let error = #expect(throws: DaxError.self) { try DaxFaultInjector(device).preRemoveStorm() }
        #expect(error?.code == .invalidArgument)
        #expect(device.lifecycle == .alive)
    }

    @Test func aRemovalOnDemand() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        let report = try await DaxFaultInjector(device).remove(deadline: .seconds(5))
        #expect(report.source == .injected)
        #expect(report.holdersNotified == 1 && report.mappingsReleased == 1)
        #expect(holder.failures.map(\.kind) == [.preRemove])
        #expect(mapping.state == .closed)
    }

    @Test(arguments: [
        (UInt64(1), UInt64?.none, DaxError.Code.misaligned),
        (0, 1, .misaligned),
        (0, 0, .outOfRange),
        (64 * 4096, nil, .outOfRange),           // at the end
        (63 * 4096, 2 * 4096, .outOfRange),      // reaches past it
        (UInt64.max, nil, .outOfRange),          // 2^64 - 1: overflows
        (UInt64.max - 4095, 4096, .outOfRange),  // ends exactly at 2^64
        (4096, UInt64.max, .outOfRange),
    ])
    func badRangesAreTypedErrorsAndChangeNothing(offset: UInt64, length: UInt64?, code: DaxError.Code) throws {
        try #require(pageSize == 4096)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, _) = try setup(dir)
        let injector = try DaxFaultInjector(device)
        for attempt in [{ try injector.inject(.media, offset: offset, length: length) },
                        { _ = try injector.clear(offset: offset, length: length) }] as [() throws -> Any] {
            let error = #expect(throws: DaxError.self) { _ = try attempt() }
            #expect(error?.code == code)
            #expect(error?.path == device.path && error?.offset == offset, "\(String(describing: error))")
        }
        #expect(!(access(injector.sidecarPath, F_OK) == 0))
        #expect(try read(mapping, at: 0, count: mapping.count).get().allSatisfy { $0 == 0xC3 })
    }

    @Test func aMalformedSidecarIsRefusedAtOpenAndClearAllRemovesIt() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 16 * page)
        let injector = try DaxFaultInjector(device)
        let f = fopen(injector.sidecarPath, "w")!
        fputs("media 4096 4096\npoison 0 x\n", f)
        fclose(f)
        let error = #expect(throws: DaxError.self) { try DaxDevice.open(dir.file("dev")) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("line 2") == true, "\(String(describing: error))")
        let mapError = #expect(throws: DaxError.self) { try device.map() }
        #expect(mapError?.code == .invalidArgument)
        #expect(device.openMappings.isEmpty)
        try injector.clearAll()
        _ = try DaxDevice.open(dir.file("dev")).map()
    }
}
