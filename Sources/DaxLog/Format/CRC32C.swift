internal import CDaxLog

/// CRC-32C through the C shim (SSE4.2 when present).
enum CRC32C {
    static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
        return cdaxlog_crc32c(seed, base, bytes.count)
    }

    static var usesHardware: Bool { cdaxlog_crc32c_hardware() == 1 }
}
