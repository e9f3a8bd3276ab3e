/// Walks logical positions of the data area record by record. Positions only
/// grow; the place of one is `position % capacity`, kept here incrementally
/// (a 64-bit division per record was a tenth of a batched append's time).
/// A record never straddles the end of the data area: one that would goes to
/// the start, after a pad record (or, with less than a header left, nothing).
struct LogCursor {
    let capacity: UInt64
    private(set) var position: UInt64
    /// `position % capacity`.
    private(set) var areaOffset: UInt64

    init(position: UInt64, capacity: UInt64) {
        self.capacity = capacity
        self.position = position
        areaOffset = position % capacity
    }

    /// Places a record of `size` bytes (at most `capacity`): where a pad goes
    /// first, if one does (its logical position and data-area offset), and the
    /// record's logical position and data-area offset. Moves past the record.
    mutating func place(_ size: Int) -> (pad: (position: UInt64, areaOffset: UInt64)?, position: UInt64, areaOffset: UInt64) {
        var pad: (UInt64, UInt64)?
        let room = capacity - areaOffset
        if UInt64(size) > room {
            if room >= UInt64(LogLayout.recordHeader) { pad = (position, areaOffset) }
            position += room
            areaOffset = 0
        }
        let placed = (pad, position, areaOffset)
        position += UInt64(size)
        areaOffset += UInt64(size)
        if areaOffset == capacity { areaOffset = 0 }
        return placed
    }
}
