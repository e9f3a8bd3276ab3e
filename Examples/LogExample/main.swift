import DaxLog
import DaxMap
import Glibc

// A write-ahead log on an emulated device (a plain file): on real hardware,
// pass /dev/daxX.Y or a file on a DAX mount to DaxLog.open(path:) instead.
var template = Array("/tmp/daxlog-example-XXXXXX".utf8CString)
guard let dir = mkdtemp(&template) else { fatalError("mkdtemp failed") }
let path = String(cString: dir) + "/wal"

/// The whole walk through; returns the exit status. A function rather than
/// top-level code: the work is the same, and the strings it prints are freed
/// as they go (top-level statements around an `await` keep them, which
/// LeakSanitizer reports).
func run(path: String) async -> Int32 {
    // Every call below throws DaxLogError only, the device's failures too: one catch.
    do {
        let log = try DaxLog.openEmulated(at: path, size: 8 << 20, // a new file: a new log
                                          deviceOptions: .init(removalDeadline: .seconds(2)))
        print("recovery: \(log.recovery)")

        // Each append returns once its record is persistent.
        let first = try log.append(Array("begin 1".utf8))
        // A batch: one persist for all of it (group commit), consecutive numbers.
        let batch = try log.append(contentsOf: [Array("put a=1".utf8), Array("put b=2".utf8)])
        // A batch from the caller's own buffers, copied from them straight to the device;
        // append(sizes:writing:) lets the caller write each record into reserved space instead.
        let commit = try "commit 1".utf8.withContiguousStorageIfAvailable { bytes in
            try log.append(buffers: [UnsafeRawBufferPointer(bytes)])
        }!
        print("appended \(first), \(batch.lowerBound)..<\(batch.upperBound) and \(commit.lowerBound)")
        // A cursor reads one record at a time (records(from:) builds an array of all of them).
        var cursor = log.cursor(from: first)
        while let record = try cursor.next() {
            print("  \(record.sequence): \(String(decoding: record.bytes, as: UTF8.self))")
        }
        // One record by number; a number not there throws .noSuchRecord.
        print("record 2 is \(String(decoding: try log.record(2).bytes, as: UTF8.self))")
        do {
            _ = try log.record(99)
        } catch {
            print("record 99: \(error.code)")
        }
        print("the next record goes at device offset \(log.tailOffset), after a \(log.headerSize)-byte header area")

        // Transaction 1 is applied elsewhere: a checkpoint frees its records' space.
        try log.discard(upTo: commit.upperBound)
        print("after checkpoint: first live sequence \(log.firstSequence), \(log.usedBytes) bytes used")

        // The device goes away: the log is its mapping's holder, so it seals and
        // releases it; appends are refused, never half-done.
        let report = await log.device.beginRemoval()
        print("removal: \(report.holdersNotified) holder(s) notified, \(report.mappingsRevoked) revoked; log \(log.state)")
        do {
            try log.append(Array("lost?".utf8))
        } catch {
            print("append while removed: \(error.code)")
        }

        // The device is back: reattach opens its path again, recovers, and appending
        // continues where it stopped.
        let recovery = try log.reattach()
        print("reattached: \(recovery)")
        let next = try log.append(Array("begin 2".utf8))
        print("appended \(next) after reattach")
        log.close()

        // A later process opens the same log and finds what was acknowledged.
        let again = try DaxLog.open(path: path, options: .init(creation: .never))
        print("reopened: \(again.recovery.recordCount) record(s), next sequence \(again.nextSequence), stopped at \(again.recovery.stop)")
        again.close()
    } catch {
        // error is a DaxLogError; a device failure is one too (its code .device).
        print("log error: \(error)")
        return 1
    }
    return 0
}

let status = await run(path: path)
unlink(path)
rmdir(String(cString: dir))
exit(status)
