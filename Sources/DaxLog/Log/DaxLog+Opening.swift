import DaxMap

// Opening a log by path: the device and the log in one call that throws DaxLogError only,
// so a service that opens both never handles a DaxError (see <doc:HandlingErrors>).
extension DaxLog {
    /// Opens the device at `path` and the log in it: `DaxDevice.open(_:options:)` and then
    /// ``open(device:offset:length:options:)``, with one error type.
    ///
    /// The device is the log's (``device``): it is closed when the log is released, and
    /// ``reattach(to:)`` without a device opens the same path again.
    /// - Parameters:
    ///   - path: `/dev/daxX.Y`, a file on a DAX mount, or a plain file (an emulated device).
    ///   - offset: where the log's region starts on the device.
    ///   - length: the region's length (default: the rest of the device).
    ///   - options: how to open the log.
    ///   - deviceOptions: how to open the device (granularity required, removal deadline).
    /// - Throws: what ``open(device:offset:length:options:)`` throws, and ``DaxLogError/Code/device``
    ///   when the device cannot be opened (its `DaxError` is ``DaxLogError/underlying``).
    public static func open(path: String, offset: UInt64 = 0, length: UInt64? = nil, options: Options = Options(),
                            deviceOptions: DaxDevice.OpenOptions = .init()) throws(DaxLogError) -> DaxLog {
        let device: DaxDevice
        do throws(DaxError) { device = try DaxDevice.open(path, options: deviceOptions) } catch {
            throw DaxLogError(error)
        }
        return try opening(device) { () throws(DaxLogError) in
            try open(device: device, offset: offset, length: length, options: options)
        }
    }

    /// Creates (or reuses) a plain file of `size` bytes at `path` as an emulated device
    /// (`DaxDevice.createEmulated(at:size:options:)`) and opens the log in it, with one
    /// error type: where there is no DAX hardware (development, tests, CI).
    ///
    /// A new file is all zeros, so the default ``Options/Creation-swift.enum/ifBlank`` makes a
    /// log in it; an existing one keeps its log.
    /// - Throws: what ``open(path:offset:length:options:deviceOptions:)`` throws.
    public static func openEmulated(at path: String, size: UInt64, offset: UInt64 = 0, length: UInt64? = nil,
                                    options: Options = Options(),
                                    deviceOptions: DaxDevice.OpenOptions = .init()) throws(DaxLogError) -> DaxLog {
        let device: DaxDevice
        do throws(DaxError) { device = try DaxDevice.createEmulated(at: path, size: size, options: deviceOptions) } catch {
            throw DaxLogError(error)
        }
        return try opening(device) { () throws(DaxLogError) in
            try open(device: device, offset: offset, length: length, options: options)
        }
    }

    /// Runs `body`; a device opened for it is closed again if the log is not made.
    private static func opening(_ device: DaxDevice, _ body: () throws(DaxLogError) -> DaxLog) throws(DaxLogError) -> DaxLog {
        do throws(DaxLogError) { return try body() } catch {
            device.close()
            throw error
        }
    }
}
