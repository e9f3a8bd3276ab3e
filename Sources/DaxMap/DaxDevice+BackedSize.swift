extension DaxDevice {
    /// How many bytes of the device have memory behind them now: the size of
    /// the file behind a DAX file or emulated device, read at the call (it is
    /// smaller than ``size`` after a truncation, and what a holder compares
    /// with its region to tell which of its data is gone). Nil for device-dax
    /// (its size does not change while it is bound) or when it cannot be read.
    public var backedSize: UInt64? { backingSize() }
}
