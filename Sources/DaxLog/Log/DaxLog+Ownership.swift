import DaxMap

/// One region, one writer: a writable log owns its region from open (or
/// reattach) to close (or seal), across threads and processes, however the
/// device was reached. Read-only logs take nothing: they cannot lose a
/// record, and `daxmap verify` reads a log a `hold` is writing.
extension DaxLog {
    /// Takes the region of `device` for this log (a writable log), giving up
    /// what it held before; `.inUse` naming the owner when another log has it.
    func claimRegion(_ c: inout LogCore, _ device: DaxDevice, operation: String) throws(DaxLogError) {
        releaseRegion(&c)
        guard !options.readOnly else { return }
        let range = offset..<(offset + length)
        do {
            c.claim = try DaxRegionClaim.claim(device, range, holder: "a DaxLog on [\(offset), \(offset + length)) of \(device.path)")
        } catch {
            switch error {
            case .inUse(let owner, let detail):
                var e = DaxLogError(.inUse, operation: operation, path: device.path, offset: offset,
                                    message: "the log region [\(offset), \(offset + length)) is owned by another writer: \(detail); one region takes one writer (close that log first, or open this one read-only)")
                e.owner = owner.map { DaxLogError.Owner(pid: $0.pid, command: $0.command, isThisProcess: $0.isThisProcess) }
                throw e
            case .failed(let underlying):
                throw DaxLogError(.device, operation: operation, path: device.path, offset: offset, underlying: underlying,
                                  message: "cannot take ownership of the log region [\(offset), \(offset + length))")
            }
        }
    }

    /// Gives the region up (close, seal, a failed attach).
    func releaseRegion(_ c: inout LogCore) {
        c.claim?.release()
        c.claim = nil
    }
}
