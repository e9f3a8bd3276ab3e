/// Where an append's payloads come from: the caller's buffers, or arrays.
protocol RecordPayloads {
    var count: Int { get }
    func length(_ i: Int) -> Int
    /// Whether payload `i` goes to the device from where it is (``address(_:)``),
    /// rather than copied after its header first (``copy(_:to:)``).
    func direct(_ i: Int) -> Bool
    /// Where payload `i` stays for the whole append (asked only when ``direct(_:)``).
    func address(_ i: Int) -> UnsafeRawPointer?
    /// Copies payload `i` to `to`.
    func copy(_ i: Int, to: UnsafeMutableRawPointer)
}
