/// One source of a gathered store: `count` bytes at `source` (nil only with count 0).
package struct GatherPiece {
    package var source: UnsafeRawPointer?
    package var count: Int

    @inlinable
    package init(_ source: UnsafeRawPointer?, _ count: Int) {
        self.source = source
        self.count = count
    }
}
