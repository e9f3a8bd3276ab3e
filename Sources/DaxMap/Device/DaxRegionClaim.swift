import Glibc
internal import DaxMapSync
import Synchronization

/// A byte range of a device claimed by one writer at a time, across threads
/// and processes on the host, whatever path reached the device (symbolic
/// link, `..`, hard link, another device node of the same device-dax).
///
/// Two locks: an open-file-description lock (`F_OFD_SETLK`, a write lock on
/// the range of the device's descriptor) that other processes (and other
/// descriptors of this one) meet, and a table of this process's claims,
/// because claims through one ``DaxDevice`` share its descriptor and OFD
/// locks never conflict with their own description. Released by
/// ``release()``, when the claim is freed, or when the device closes its
/// descriptor (a removal does). Package access: DaxLog's, not API.
package final class DaxRegionClaim: Sendable {
    /// Why a claim was refused.
    package enum Refusal: Error, Sendable {
        /// Someone owns an overlapping range: `owner` when it could be seen, and
        /// what was found (or why not) in `detail`.
        case inUse(owner: DaxRegionOwner?, detail: String)
        /// The device is closed or removed, or the lock call failed.
        case failed(DaxError)
    }

    /// What is claimed: the file (or the device behind a device node) and its bytes.
    struct Key: Hashable, Sendable {
        var device: UInt64, inode: UInt64, rdev: UInt64
        init(_ identity: FileIdentity) {
            // Every node of a character device is the same device.
            (device, inode, rdev) = identity.rdev != 0 ? (0, 0, identity.rdev) : (identity.device, identity.inode, 0)
        }
    }

    private struct Entry: Sendable {
        var id: UInt64, key: Key, range: Range<UInt64>, holder: String, device: ObjectIdentifier
    }

    /// This process's claims. The lock is held across the fcntl, so two threads
    /// claiming the same range through different descriptors are ordered here.
    private static let table = Locked<(next: UInt64, entries: [Entry])>((1, []))

    private let device: DaxDevice
    private let id: UInt64
    /// The device bytes claimed.
    package let range: Range<UInt64>
    private let released = Atomic<Bool>(false)

    private init(device: DaxDevice, id: UInt64, range: Range<UInt64>) {
        self.device = device
        self.id = id
        self.range = range
    }

    deinit { release() }

    /// Claims `range` of `device` for `holder` (how the owner is described to
    /// the next claimant of this process, e.g. "DaxLog [0, 8192) of /dev/dax0.0").
    package static func claim(_ device: DaxDevice, _ range: Range<UInt64>, holder: String) throws(Refusal) -> DaxRegionClaim {
        let key = Key(device.identity)
        let r: Result<DaxRegionClaim, Refusal> = table.withLock { t in
            if let mine = t.entries.first(where: { $0.key == key && $0.range.overlaps(range) }) {
                let owner = DaxRegionOwner.thisProcess()
                return .failure(.inUse(owner: owner, detail: "\(owner) holds [\(mine.range.lowerBound), \(mine.range.upperBound)) for \(mine.holder)"))
            }
            guard !device.options.readOnly else {
                return .failure(.failed(DaxError(.permissionDenied, operation: "claim", path: device.path,
                                                 message: "the device was opened read-only: a writer cannot own a range of it")))
            }
            let fd = device.state.withLock { $0.descriptor }
            guard fd >= 0 else {
                return .failure(.failed(DaxError(.closed, operation: "claim", path: device.path, message: "the device is closed or removed")))
            }
            switch Syscalls.ofdLock(fd, type: F_WRLCK, range) {
            case .success:
                let id = t.next
                t.next += 1
                t.entries.append(Entry(id: id, key: key, range: range, holder: holder, device: ObjectIdentifier(device.handle)))
                return .success(DaxRegionClaim(device: device, id: id, range: range))
            case .failure(let e) where e == .resourceTemporarilyUnavailable || e == .permissionDenied:
                return .failure(RegionLockOwners.find(device.identity, range))
            case .failure(let e):
                return .failure(.failed(DaxError(.system, operation: "fcntl", path: device.path, offset: range.lowerBound,
                                                 length: UInt64(range.count), errno: e, message: "cannot lock the range (F_OFD_SETLK)")))
            }
        }
        return try r.get()
    }

    /// `device` is about to close its descriptor `fd`: its ranges are unlocked
    /// first, because a duplicate of the descriptor (the persistence
    /// simulator keeps one) would keep the description, and its locks, alive.
    /// The claims stay in this process's table until released.
    static func deviceClosing(_ device: DeviceHandle, descriptor fd: CInt) {
        table.withLock { t in
            for e in t.entries where e.device == ObjectIdentifier(device) {
                // Unlocking a range of an open descriptor cannot fail.
                _ = Syscalls.ofdLock(fd, type: F_UNLCK, e.range)
            }
        }
    }

    /// Gives the range up. Idempotent.
    package func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Self.table.withLock { t in
            t.entries.removeAll { $0.id == id }
            // A closed descriptor took its locks with it (and its number may be another file's now).
            let fd = device.state.withLock { $0.descriptor }
            if fd >= 0 {
                // Unlocking a range this description locked fails only on a bad descriptor, which it is not.
                _ = Syscalls.ofdLock(fd, type: F_UNLCK, range)
            }
        }
    }
}
