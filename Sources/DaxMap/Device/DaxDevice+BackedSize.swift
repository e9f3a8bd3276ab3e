extension DaxDevice {
    /// How many bytes of the device have memory behind them now: the size of
    /// the file behind a DAX file or emulated device, read at the call (it is
    /// smaller than ``size`` after a truncation, and what a holder compares
    /// with its region to tell which of its data is gone). Nil for device-dax
    /// (its size does not change while it is bound) or when it cannot be read.
    public var backedSize: UInt64? { handle.backingSize() }

    /// Extends the file behind this device with zeros to `size` bytes, through
    /// the device's own descriptor (the name may point elsewhere by now); never
    /// shortens it. For DaxLog's `reattach(growingEmulatedFile:)`; reopen the
    /// device to map the new bytes.
    package func extendBackingFile(to size: UInt64) throws(DaxError) {
        guard kind != .deviceDax else {
            throw DaxError(.unsupported, operation: "grow", path: path, length: size, message: "a device-dax device cannot be grown")
        }
        let fd = state.withLock { $0.descriptor }
        guard fd >= 0, let now = handle.backingSize() else {
            throw DaxError(.closed, operation: "grow", path: path, message: "the device is closed or removed")
        }
        guard now < size else { return }
        guard size <= UInt64(Int.max), case .success = Syscalls.ftruncate(fd, Int(size)) else {
            throw DaxError(.system, operation: "ftruncate", path: path, length: size,
                           message: "cannot extend the file to \(size) bytes")
        }
    }
}
