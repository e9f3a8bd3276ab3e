import DaxMap

/// Parses a byte offset or length from the command line: decimal or `0x` hex,
/// with an optional `K`, `M` or `G` (binary) suffix. Anything else — a sign,
/// a fraction, an overflow — is a DaxError naming the option and the value.
func parseBytes(_ text: String, option: String, operation: String, path: String) throws(DaxError) -> UInt64 {
    var digits = Substring(text)
    var scale: UInt64 = 1
    if let last = digits.last, let s = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30][last.uppercased()] {
        scale = UInt64(s)
        digits = digits.dropLast()
    }
    let value: UInt64? = digits.hasPrefix("0x") || digits.hasPrefix("0X")
        ? UInt64(digits.dropFirst(2), radix: 16) : UInt64(digits, radix: 10)
    guard let value, !digits.isEmpty else {
        throw DaxError(.invalidArgument, operation: operation, path: path,
                       message: "\(option) '\(text)' is not a byte count (a non-negative integer, decimal or 0x hex, optionally K, M or G)")
    }
    let (scaled, overflow) = value.multipliedReportingOverflow(by: scale)
    guard !overflow else {
        throw DaxError(.invalidArgument, operation: operation, path: path,
                       message: "\(option) '\(text)' does not fit in 64 bits")
    }
    return scaled
}
