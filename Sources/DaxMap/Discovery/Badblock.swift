/// A range of media the kernel knows to be bad (poisoned or unreadable).
///
/// The kernel and libndctl count in 512-byte sectors (`struct badblock
/// { offset, len }`); ``byteRange`` gives the same range in bytes. The origin of
/// the offset depends on who reported it: a region's badblocks are relative to
/// the start of the region, a namespace's to the start of its data, a DAX
/// device's to offset 0 of the device.
public struct Badblock: Sendable, Hashable, CustomStringConvertible {
    /// The size of the unit the kernel counts badblocks in.
    public static let sectorSize: UInt64 = 512

    /// The first bad sector, in 512-byte sectors from the origin.
    public var sectorOffset: UInt64
    /// How many consecutive 512-byte sectors are bad.
    public var sectorCount: UInt64

    /// A badblock in the kernel's units: 512-byte sectors from the origin.
    public init(sectorOffset: UInt64, sectorCount: UInt64) {
        self.sectorOffset = sectorOffset
        self.sectorCount = sectorCount
    }

    /// The bad range in bytes from the origin.
    public var byteRange: Range<UInt64> {
        let start = sectorOffset &* Badblock.sectorSize
        return start..<(start &+ sectorCount &* Badblock.sectorSize)
    }

    public var description: String {
        "sectors \(sectorOffset)+\(sectorCount) (bytes \(byteRange.lowerBound)..<\(byteRange.upperBound))"
    }

    /// Rebases badblocks onto a device that occupies `device` in the same
    /// address space as `origin`, keeping only the parts inside it.
    ///
    /// Used to turn region-relative badblocks (origin: the region's physical
    /// start) into offsets of a DAX device (its physical resource range), the
    /// way `ndctl list --media-errors` does for devdax namespaces.
    ///
    /// - Parameters:
    ///   - badblocks: Ranges relative to `origin`.
    ///   - origin: The address the badblocks' offsets count from.
    ///   - device: The device's range in the same address space.
    /// - Returns: The overlapping parts, relative to `device.lowerBound`,
    ///   widened to whole sectors.
    public static func rebase(_ badblocks: [Badblock], from origin: UInt64, onto device: Range<UInt64>) -> [Badblock] {
        var result: [Badblock] = []
        for bb in badblocks {
            let (start, o1) = origin.addingReportingOverflow(bb.byteRange.lowerBound)
            let (end, o2) = origin.addingReportingOverflow(bb.byteRange.upperBound)
            if o1 || o2 { continue }
            let lo = max(start, device.lowerBound)
            let hi = min(end, device.upperBound)
            if lo >= hi { continue }
            let first = (lo - device.lowerBound) / sectorSize
            let last = (hi - device.lowerBound + sectorSize - 1) / sectorSize
            result.append(Badblock(sectorOffset: first, sectorCount: last - first))
        }
        return result
    }
}
