// A user's own test of their holder, written against the public API only, as
// the DocC article TestingFailureHandling shows: no daxmap internals, no test raisers.
import DaxMap
import DaxMapTesting
import Glibc
import Synchronization
import Testing

/// What a user writes: a journal that owns one slice of the device, reads
/// through guarded accesses and remembers what it was told.
private final class Journal: DaxHolder {
    let mapping = Mutex<DaxMapping?>(nil)
    let told = Mutex<[DaxFailure]>([])

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        told.withLock { $0.append(failure) }
        if failure.kind == .preRemove { mapping.withLock { $0?.close() } }
        return true
    }

    /// Reads one record; a failed range is an error the journal survives.
    func readRecord(at offset: Int) -> Result<[UInt8], DaxError> {
        var bytes = [UInt8](repeating: 0, count: 64)
        do {
            try bytes.withUnsafeMutableBytes { buffer in
                try mapping.withLock { m in try m!.read(at: offset, into: buffer) }
            }
            return .success(bytes)
        } catch let error as DaxError {
            return .failure(error)
        } catch {
            return .failure(DaxError(.system, operation: "read", message: "\(error)"))
        }
    }
}

private func scratchPath() -> (dir: String, device: String) {
    var template = Array("/tmp/daxmap user test XXXXXX".utf8CString) // a path with spaces
    let dir = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!)! })
    return (dir, dir + "/journal device")
}

private func waitFor(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<20_000 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}

@Suite struct InjectorUserStyleTests {
    @Test func myJournalSurvivesAnInjectedMediaFailureAndOnlyItIsTold() async throws {
        let (dir, path) = scratchPath()
        defer { _ = system("rm -rf '\(dir)'") }
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let device = try DaxDevice.createEmulated(at: path, size: 64 * page)
        let mine = Journal(), other = Journal()
        mine.mapping.withLock { $0 = try? device.map(offset: 0, length: 32 * page, holder: mine) }
        other.mapping.withLock { $0 = try? device.map(offset: 32 * page, length: 32 * page, holder: other) }
        try mine.mapping.withLock { m in try m!.fill(0x5A, at: 0, count: Int(32 * page)) }

        let injector = try DaxFaultInjector(device)
        try injector.inject(.media, offset: 5 * page)

        // The record on the poisoned page fails as poison does; its neighbours read fine.
        guard case .failure(let error) = mine.readRecord(at: Int(5 * page) + 128) else {
            Issue.record("the injected page read without a fault")
            return
        }
        #expect(error.code == .mediaFailure)
        #expect(error.offset == 5 * page && error.length == page, "\(error)")
        #expect(try mine.readRecord(at: Int(4 * page)).get() == [UInt8](repeating: 0x5A, count: 64))
        #expect(try mine.readRecord(at: Int(6 * page)).get() == [UInt8](repeating: 0x5A, count: 64))

        // My journal is told, with the page; the other holder is not.
        #expect(await waitFor { mine.told.withLock { !$0.isEmpty } })
        let told = mine.told.withLock { $0 }
        #expect(told.map(\.kind) == [.memoryFailureActionRequired])
        #expect(told.first?.range == (5 * page)..<(6 * page))
        try await Task.sleep(for: .milliseconds(100))
        #expect(other.told.withLock { $0.isEmpty })
        #expect(device.badblocks == [(5 * page)..<(6 * page)])

        // Cleared, the page is the device's again: a fresh mapping reads what was there.
        #expect(try injector.clear(offset: 5 * page).map(\.range) == [(5 * page)..<(6 * page)])
        #expect(device.badblocks.isEmpty)
        let again = Journal()
        again.mapping.withLock { $0 = try? device.map(offset: 0, length: 32 * page, holder: again) }
        #expect(try again.readRecord(at: Int(5 * page) + 128).get() == [UInt8](repeating: 0x5A, count: 64))
    }

    @Test func anInjectedFailureSurvivesReopenAndMeetsTheNextMapping() async throws {
        let (dir, path) = scratchPath()
        defer { _ = system("rm -rf '\(dir)'") }
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let first = try DaxDevice.createEmulated(at: path, size: 16 * page)
        try DaxFaultInjector(first).inject(.removed, offset: 2 * page, length: 2 * page)
        first.close()

        let device = try DaxDevice.open(path)
        #expect(device.badblocks == [(2 * page)..<(4 * page)])
        let journal = Journal()
        journal.mapping.withLock { $0 = try? device.map(holder: journal) }
        guard case .failure(let error) = journal.readRecord(at: Int(3 * page)) else {
            Issue.record("the injected range read without a fault")
            return
        }
        #expect(error.code == .deviceRemoved)
        // Only the injected range is gone, not the rest of the device.
        #expect((try? journal.readRecord(at: Int(4 * page)).get()) != nil)
        #expect(await waitFor { journal.told.withLock { !$0.isEmpty } })
        #expect(journal.told.withLock { $0.map(\.kind) } == [.removed])
        #expect(journal.told.withLock { $0.first?.range } == (2 * page)..<(4 * page))
        try DaxFaultInjector(device).clearAll()
    }
}
