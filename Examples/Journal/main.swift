// daxmap-example: map a device, write, read, survive its removal.
// No argument: an emulated device (a plain file in /tmp). `daxmap-example /dev/dax0.0`
// (or a file on a DAX mount) runs on real memory and overwrites its first 2 MiB.
import DaxMap
import Glibc
import Synchronization

/// A holder is told when the memory it maps fails or goes away.
final class Journal: DaxHolder {
    let mapping = Mutex<DaxMapping?>(nil)

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        print("journal: told \(failure.kind) for [\(failure.range.lowerBound), \(failure.range.upperBound))")
        switch failure.kind {
        case .preRemove:                    // the device is going: stop, release
            mapping.withLock { $0.take() }?.close()
        case .memoryFailureActionRequired, .memoryFailureActionOptional, .removed, .pagesLost:
            break                           // failure.range (device offsets) is lost: stop using it
        }
        return true
    }
}

/// Maps, writes, reads back and removes the device; returns the exit status.
func run(path: String, emulated: Bool) async -> Int32 {
    do throws(DaxError) {
        let device = emulated
            ? try DaxDevice.createEmulated(at: path, size: 4 << 20)
            : try DaxDevice.open(path)          // /dev/daxX.Y, or a file on a DAX mount
        print("opened \(device)")
        let events = device.events()            // faults, notifications, removal progress
        let journal = Journal()
        let m = try device.map(offset: 0, length: 2 << 20, holder: journal)
        journal.mapping.withLock { $0 = m }

        // Plain buffers: Array.withUnsafeBytes rethrows `any Error`, which throws(DaxError) refuses.
        let record = Array("hello, persistent memory".utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: record.count, alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: record)
        try m.write(UnsafeRawBufferPointer(buffer), at: 0)  // copy + persist (clwb + sfence, or msync here)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        try m.read(at: 0, into: buffer)         // a fault here throws DaxError, never kills the process
        print("read back: \(String(decoding: buffer, as: UTF8.self))")

        // What an operator's unbind does: freeze, tell every holder, wait, revoke what is left.
        let report = await device.beginRemoval()
        print("removal: \(report.holdersNotified) holder(s) notified, \(report.mappingsReleased) released, \(report.mappingsRevoked) revoked")
        for await event in events { print("event: \(event)") }   // ends once the device is gone

        // The journal closed its mapping: access throws instead of crashing.
        do throws(DaxError) {
            try m.read(at: 0, into: buffer)
        } catch {
            switch error.code {
            case .closed, .revoked:
                print("after removal: \(error.code)")
            case .mediaFailure, .deviceRemoved:  // poison or no memory: [offset, offset + length) is lost
                print("lost \(error.offset ?? 0)+\(error.length ?? 0): \(error.message)")
            default:
                throw error
            }
        }
    } catch {
        switch error.code {
        case .notFound, .notADaxDevice, .blockDeviceNotMappable:
            print("daxmap-example: not something daxmap maps: \(error)")
        case .permissionDenied:
            print("daxmap-example: device nodes are usually root-only: \(error)")
        default:
            print("daxmap-example: \(error)")
        }
        return 1
    }
    return 0
}

let emulated = CommandLine.arguments.count < 2
let path = emulated ? "/tmp/daxmap-example-\(getpid())" : CommandLine.arguments[1]
let status = await run(path: path, emulated: emulated)
if emulated { unlink(path) }
exit(status)
