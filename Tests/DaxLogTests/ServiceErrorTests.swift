// DaxLog as an outside service uses it: public API only (no @testable), and one error
// type to catch, whether Swift keeps the thrown type or widens it to `any Error`.
import DaxLog
import DaxMap
import Testing

@Suite struct ServiceErrorTests {
    /// The device, the log, appends and a failed open in one `do throws(DaxLogError)`:
    /// it compiles only because no call in it throws anything else.
    @Test func oneTypedCatchCoversTheDeviceAndTheLog() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("wal")
        var appended: UInt64?
        var recovered = 0
        var caught: DaxLogError?
        do throws(DaxLogError) {
            let log = try DaxLog.openEmulated(at: path, size: 1 << 20)
            appended = try log.append(Array("put a=1".utf8))
            log.close()
            let again = try DaxLog.open(path: path, options: .init(creation: .never))
            recovered = again.recovery.recordCount
            again.close()
            _ = try DaxLog.open(path: dir.file("missing"))
        } catch {
            caught = error
        }
        #expect(appended == 0)
        #expect(recovered == 1)
        let error = try #require(caught)
        #expect(error.code == .device)
        #expect(error.underlying?.code == .notFound)
        #expect(error.path == dir.file("missing"))
    }

    /// A log error from the log part of `open(path:)` is the log's own code, not `.device`.
    @Test func openByPathReportsTheLogsOwnCodes() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("wal")
        try DaxDevice.createEmulated(at: path, size: 1 << 20).close()
        patch(path, at: 0, Array("not a log".utf8))
        do throws(DaxLogError) {
            _ = try DaxLog.open(path: path, options: .init(creation: .never))
            Issue.record("a region holding something else opened as a log")
        } catch {
            #expect(error.code == .notALog)
        }
        // The region was refused, not taken: a writer may still open it (over the old bytes).
        let log = try DaxLog.open(path: path, options: .init(creation: .overwrite))
        #expect(log.state == .open)
        log.close()
    }

    /// A task group rethrows `any Error`: one call turns it back into a DaxLogError,
    /// whether a child threw the log's error or the device's.
    @Test func aTaskGroupsErrorConvertsWithOneCall() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try DaxLog.openEmulated(at: dir.file("wal"), size: 1 << 20)
        defer { log.close() }
        let tooLarge = [UInt8](repeating: 1, count: log.maximumRecordSize + 1)
        do {
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                group.addTask { try log.append(Array("fits".utf8)) }
                group.addTask { try log.append(tooLarge) }
                for try await _ in group {}
            }
            Issue.record("the oversized append did not throw")
        } catch {
            let converted = try #require(DaxLogError(error))
            #expect(converted.code == .invalidArgument)
        }
        let missing = dir.file("missing")
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try DaxDevice.open(missing) }
                try await group.waitForAll()
            }
            Issue.record("opening a missing device did not throw")
        } catch {
            let converted = try #require(DaxLogError(error))
            #expect(converted.code == .device)
            #expect(converted.underlying?.code == .notFound)
        }
    }

    /// `??` takes a `rethrows` autoclosure, so its error is `any Error`: the same call converts it.
    @Test func aNilCoalescingErrorConvertsWithOneCall() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let cached: DaxLog? = nil
        do {
            let log = try cached ?? DaxLog.open(path: dir.file("missing"))
            log.close()
            Issue.record("opening a missing device did not throw")
        } catch {
            let converted = try #require(DaxLogError(error))
            #expect(converted.code == .device)
            #expect(converted.underlying?.code == .notFound)
        }
    }

    /// The conversion keeps everything the device error said; a log error passes through
    /// unchanged; an error that is not daxmap's is not dressed up as one.
    @Test func theConversionKeepsTheDeviceError() {
        let device = DaxError(.mediaFailure, operation: "read", path: "/dev/dax0.0", offset: 4096, length: 64,
                              message: "poison consumed")
        let converted: DaxLogError = DaxLogError(device)  // not optional: the typed overload
        #expect(converted.code == .device)
        #expect(converted.underlying == device)
        #expect(converted.operation == "read")
        #expect(converted.path == "/dev/dax0.0")
        #expect(converted.offset == 4096)
        #expect(converted.message == "poison consumed")
        let widened: any Error = device
        #expect(DaxLogError(widened) == converted)
        #expect(DaxLogError(converted as any Error) == converted)
        #expect(DaxLogError(CancellationError()) == nil)
    }
}
