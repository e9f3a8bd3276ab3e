internal import CDaxMap
import Glibc
import SystemPackage

/// Badblocks of a file on a DAX file system in **file** offsets, as libpmem2
/// reports them: the block device's badblocks (sysfs, 512-byte sectors of the
/// whole disk, less a partition's start) carried through the file's extents
/// (FIEMAP: file offset → byte of the block device).
enum FileBadblocks {
    /// The file's extents, or the errno (EOPNOTSUPP: no FIEMAP, e.g. tmpfs).
    static func extents(_ fd: CInt) -> Result<[cdaxmap_extent], Errno> {
        var room = 64
        while true {
            var out = [cdaxmap_extent](repeating: cdaxmap_extent(), count: room)
            let n = Int(cdaxmap_file_extents(fd, &out, room))
            if n < 0 { return .failure(Errno(rawValue: CInt(-n))) }
            if n > room {
                room = n
                continue
            }
            return .success(Array(out[0..<n]))
        }
    }

    /// Block-device byte ranges → file ranges, through `extents`; sorted, merged.
    static func fileRanges(of deviceRanges: [Range<UInt64>], through extents: [cdaxmap_extent]) -> [Range<UInt64>] {
        var found: [Range<UInt64>] = []
        for bad in deviceRanges {
            for e in extents {
                let (end, overflow) = e.physical.addingReportingOverflow(e.length)
                guard !overflow else { continue }
                let lo = max(bad.lowerBound, e.physical), hi = min(bad.upperBound, end)
                if lo < hi { found.append((e.logical + (lo - e.physical))..<(e.logical + (hi - e.physical))) }
            }
        }
        return RangeLedger.coalesced(found)
    }

    /// The badblocks of the block device `dev` (st_dev) in bytes from its start;
    /// nil when sysfs does not say.
    static func blockDeviceBadblocks(_ dev: UInt64, root: String = "/sys") -> [Range<UInt64>]? {
        let dir = "\(root)/dev/block/\(cdaxmap_dev_major(dev)):\(cdaxmap_dev_minor(dev))"
        if let list = Sysfs.badblocks(atPath: dir + "/badblocks") { return list.map(\.byteRange) }
        // A partition: the disk's list, from the partition's first sector.
        guard let start = Sysfs.number(dir + "/start"), let list = Sysfs.badblocks(atPath: dir + "/../badblocks") else {
            return nil
        }
        let origin = start * Badblock.sectorSize
        return list.map(\.byteRange).compactMap { r in
            r.upperBound > origin ? (max(r.lowerBound, origin) - origin)..<(r.upperBound - origin) : nil
        }
    }

    /// The open file's badblocks in file offsets (empty when unknown).
    static func of(_ fd: CInt, device dev: UInt64) -> [Range<UInt64>] {
        guard let bad = blockDeviceBadblocks(dev), !bad.isEmpty, case .success(let extents) = extents(fd) else { return [] }
        return fileRanges(of: bad, through: extents)
    }
}
