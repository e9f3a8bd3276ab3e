internal import CDaxMap

/// The failure vocabulary: what failed, how certain daxmap is of it, and when
/// (in mapping ids) it was observed. This file is where a failure's meaning
/// is decided; everything else asks it.
///
/// One walk of a SIGBUS meets each decision once:
/// 1. `handler.c` decides what failed from what the kernel said (and a trap of
///    an injected failure, a revoked range, a guard whose slot was freed) and
///    records it as a `CDAXMAP_FAILED_*` value in the fault record.
/// 2. ``init(record:)`` turns the record into a `FailureCause`: the one
///    function that reads a handler record's meaning. No Swift code looks at
///    `si_code` or the record's flags to decide what failed.
/// 3. Below, in this file, the cause becomes what each audience sees: the
///    public ``DaxFault/Cause`` (events), ``DaxFailure/Kind`` (holders),
///    ``DaxFailedRange/Kind`` (``DaxMapping/failures``), DaxMapTesting's `DaxInjectedFailure.Kind`
///    (what an injection produces), the ``DaxError/Code`` and message a guarded
///    access throws, and the mark a failure leaves in the handler's range table.
///
/// The dispatcher (``FailureDispatcher``) then decides only policy, on the
/// cause's ``Kind``: a storm or a removal, which holders, what they were told.
/// The removal run takes its kind from ``init(removal:epoch:)``.
///
/// **Adding a kind of failure** takes two edits and nothing else structural:
/// - a `CDAXMAP_FAILED_*` value in `Sources/CDaxMap/include/CDaxMapFailure.h`
///   (raise `CDAXMAP_FAILED_KINDS`; where the handler can see it, decide it in
///   `failure_of` or `mark_failed` of `handler.c`);
/// - a case of ``Kind`` here with that raw value, and its line in each switch
///   below (the compiler lists them). `FailureVocabularyTests` fails until the
///   C and Swift values agree.
///
/// The epoch rule: a failure concerns only mappings with `id <= epoch`
/// (``concerns(mappingID:)``, ``DaxFailure/concerns(_:)``). A mapping made later
/// over the same offsets holds data written after the failure.
package struct FailureCause: Sendable, Hashable, CustomStringConvertible {
    /// What failed, and with what certainty. The raw values are the C values
    /// `CDAXMAP_FAILED_*` of `CDaxMapFailure.h`.
    package enum Kind: UInt32, Sendable, Hashable, CaseIterable {
        /// The kernel raised a fault for a reason daxmap does not know (another
        /// `si_code`): reported, and nothing is known to have failed.
        case unexplained = 0
        /// Poison consumed (`BUS_MCEERR_AR`, or a trap of injected poison): the
        /// extent failed, and the access that touched it could not complete.
        case memoryFailureActionRequired = 1
        /// The pages were replaced by anonymous memory after an unguarded
        /// fault: whatever they held is lost to this mapping.
        case pagesLost = 2
        /// No memory behind the range (`BUS_ADRERR`: a truncated file, an
        /// unbound device), or an abrupt removal (a power failure).
        case removed = 3
        /// Poison found but not consumed (`BUS_MCEERR_AO`), or poison re-derived
        /// from a mark, which does not say whether it was consumed.
        case memoryFailureActionOptional = 4
        /// An access after the mapping was revoked or closed: it touched the
        /// `PROT_NONE` reservation, not the device.
        case revoked = 5
        /// The whole device is going (a planned removal): nothing has failed
        /// yet; every mapping must be released before the deadline.
        case preRemove = 6
    }

    package var kind: Kind
    /// The newest mapping id issued when the failure was observed (stamped
    /// by the handler for a fault).
    package var epoch: UInt64
    /// Re-derived from the handler's marks after the event ring dropped
    /// records, not read from a record.
    package var reconstructed: Bool
    /// The handler also replaced the failed pages with anonymous memory (an
    /// unguarded access under ``FaultPolicy/replacePages``): they are lost too.
    package var replaced: Bool
    /// The fault met a failure injected by DaxMapTesting's `DaxFaultInjector`.
    package var injected: Bool

    package init(_ kind: Kind, epoch: UInt64, reconstructed: Bool = false, replaced: Bool = false,
                 injected: Bool = false) {
        self.kind = kind
        self.epoch = epoch
        self.reconstructed = reconstructed
        self.replaced = replaced
        self.injected = injected
    }

    /// Whether this failure concerns mapping `id`: only a mapping that existed
    /// when it was observed.
    package func concerns(mappingID id: UInt64) -> Bool { id <= epoch }

    package var description: String {
        "\(kind) epoch \(epoch)" + (reconstructed ? " reconstructed" : "") + (replaced ? " replaced" : "")
            + (injected ? " injected" : "")
    }
}

// MARK: - From the signal handler

extension FailureCause {
    /// The one translation of a handler record: what failed is what the
    /// handler decided (`cdaxmap_fault.failure`); a value this build does not
    /// know is ``Kind/unexplained``.
    init(record raw: cdaxmap_fault) {
        self.init(Kind(rawValue: raw.failure) ?? .unexplained, epoch: raw.epoch,
                  replaced: raw.flags & UInt32(CDAXMAP_EVENT_REPLACED) != 0,
                  injected: raw.flags & UInt32(CDAXMAP_EVENT_INJECTED_POISON | CDAXMAP_EVENT_INJECTED_REMOVED) != 0)
    }

    /// What a mark in the handler's range table says (`CDAXMAP_FAILED_POISON`,
    /// `_LOST`, `_REMOVED`, as `cdaxmap_range_check` and `cdaxmap_range_failed`
    /// return them). A poison mark does not say whether the poison was
    /// consumed: it is ``Kind/memoryFailureActionOptional``.
    init(mark: CInt, epoch: UInt64, reconstructed: Bool = false) {
        let kind: Kind = switch mark {
        case CDAXMAP_FAILED_POISON: .memoryFailureActionOptional
        case CDAXMAP_FAILED_LOST: .pagesLost
        default: .removed
        }
        self.init(kind, epoch: epoch, reconstructed: reconstructed)
    }

    /// A failed range of ``DaxMapping/failures`` re-derived after the ring
    /// dropped records, observed by `epoch`: what its mark said.
    init(reconstructing failed: DaxFailedRange.Kind, epoch: UInt64) {
        let kind: Kind = switch failed {
        case .poison: .memoryFailureActionOptional
        case .removed: .removed
        case .pagesLost: .pagesLost
        }
        self.init(kind, epoch: epoch, reconstructed: true)
    }

    /// What a removal of the whole device tells every holder: a planned one
    /// asks them to release (``Kind/preRemove``); after an abrupt end (a
    /// power failure) the memory is gone (``Kind/removed``).
    init(removal source: RemovalSource, epoch: UInt64) {
        self.init(source.isAbrupt ? .removed : .preRemove, epoch: epoch)
    }
}

extension FailureCause.Kind {
    /// The mark this kind of failure leaves in the handler's range table, so
    /// guarded accesses refuse the range without faulting; nil when it leaves none.
    /// Package-wide: the injector arms its traps with it.
    package var mark: CInt? {
        switch self {
        case .memoryFailureActionRequired, .memoryFailureActionOptional: CDAXMAP_FAILED_POISON
        case .removed: CDAXMAP_FAILED_REMOVED
        case .pagesLost: CDAXMAP_FAILED_LOST
        case .revoked, .preRemove, .unexplained: nil
        }
    }
}

// MARK: - The public kinds

extension DaxFault.Cause {
    /// How an event names a fault of this kind.
    init(_ kind: FailureCause.Kind) {
        self = switch kind {
        case .memoryFailureActionRequired: .memoryFailureActionRequired
        case .memoryFailureActionOptional: .memoryFailureActionOptional
        case .removed: .addressError
        case .revoked: .accessAfterRevoke
        case .pagesLost, .preRemove, .unexplained: .other
        }
    }
}

extension DaxFailure.Kind {
    /// How a holder is told a failure of this kind; nil for the kinds holders
    /// are never told (an access after revoke, a fault of unknown reason).
    init?(_ kind: FailureCause.Kind) {
        switch kind {
        case .memoryFailureActionRequired: self = .memoryFailureActionRequired
        case .memoryFailureActionOptional: self = .memoryFailureActionOptional
        case .removed: self = .removed
        case .pagesLost: self = .pagesLost
        case .preRemove: self = .preRemove
        case .revoked, .unexplained: return nil
        }
    }
}

extension DaxFailure {
    /// The failure holders are told for `cause` over `range` of `device`; nil
    /// when holders are not told such a cause.
    init?(device: String, range: Range<UInt64>, cause: FailureCause, mappings: [DaxMapping] = []) {
        guard let kind = Kind(cause.kind) else { return nil }
        self.init(device: device, range: range, kind: kind, mappings: mappings,
                  reconstructed: cause.reconstructed, epoch: cause.epoch)
    }
}

extension DaxFailedRange.Kind {
    /// How ``DaxMapping/failures`` lists a range that failed this way.
    init(_ kind: FailureCause.Kind) {
        self = switch kind {
        case .memoryFailureActionRequired, .memoryFailureActionOptional: .poison
        case .pagesLost: .pagesLost
        case .removed, .revoked, .preRemove, .unexplained: .removed
        }
    }
}

extension DaxFailedRange.Kind {
    /// What failed behind the error a guarded access threw: poison for a media
    /// failure, no memory for a removed device; nil for an error that says
    /// nothing failed (closed, revoked, out of range). Scrub and DaxLog's
    /// recovery ask this instead of reading error codes themselves.
    package init?(thrownBy error: DaxError) {
        switch error.code {
        case .mediaFailure: self = .poison
        case .deviceRemoved: self = .removed
        default: return nil
        }
    }
}

extension FailureCause {
    /// What a range a scan (a scrub) found failed tells holders: poison found
    /// but not consumed, or memory no longer behind it.
    package init(found kind: DaxFailedRange.Kind, epoch: UInt64) {
        self.init(kind == .poison ? .memoryFailureActionOptional : .removed, epoch: epoch)
    }
}

// MARK: - What a guarded access throws

extension FailureCause.Kind {
    /// The code of the error a guarded access throws for this failure.
    /// `closed`: the mapping's owner closed it (rather than a removal revoking it).
    func errorCode(closed: Bool) -> DaxError.Code {
        switch self {
        case .memoryFailureActionRequired, .memoryFailureActionOptional: .mediaFailure
        case .removed, .pagesLost, .unexplained: .deviceRemoved
        case .revoked: closed ? .closed : .revoked
        case .preRemove: .deviceGoing
        }
    }
}

extension FailureCause {
    /// The error a guarded access throws when its guard caught this failure at
    /// device offset `at` of `device`. `extent`: the failed device range.
    /// `closed`: the owner closed the mapping. `gone`: how many bytes from a
    /// device offset to the mapping's end are known gone (asked only when no
    /// memory is behind the access).
    func error(_ operation: String, device: String, at: UInt64, extent: Range<UInt64>, closed: Bool,
               gone: (UInt64) -> UInt64?) -> DaxError {
        let code = kind.errorCode(closed: closed)
        switch kind {
        case .revoked:
            return DaxError(code, operation: operation, path: device, offset: at, message: closed
                ? "the mapping was closed during the access"
                : "the mapping was revoked during the access (the device was removed)")
        case .memoryFailureActionRequired, .memoryFailureActionOptional:
            return DaxError(code, operation: operation, path: device, offset: extent.lowerBound,
                            length: UInt64(extent.count),
                            message: "memory failure (poison)\(injected ? " (injected)" : "") at device offset \(extent.lowerBound), \(extent.count) bytes")
        case .preRemove:
            return DaxError(code, operation: operation, path: device, offset: at,
                            message: "the device is being removed; release its mappings")
        case .removed, .pagesLost, .unexplained:
            if injected {
                // A trap of DaxMapTesting's injector: nothing was truncated or removed.
                return DaxError(code, operation: operation, path: device, offset: at,
                                message: "the memory at device offset \(at) is unbacked by an injected failure (DaxFaultInjector, kind removed; clear it with the injector or `daxmap inject --clear`): the device and its file are unchanged")
            }
            if let length = gone(at) {
                return DaxError(code, operation: operation, path: device, offset: at, length: length,
                                message: "the memory at device offset \(at) is no longer backed (BUS_ADRERR): the file was truncated; \(length) bytes from there to the end of the mapping are gone")
            }
            return DaxError(code, operation: operation, path: device, offset: at,
                            message: "the memory at device offset \(at) is no longer backed (BUS_ADRERR): the device was removed or the file truncated")
        }
    }

    /// The error a guarded access throws before touching `extent` (device
    /// offsets of `device`), which the handler marked failed this way.
    func refusal(_ operation: String, device: String, extent: Range<UInt64>) -> DaxError {
        let code = kind.errorCode(closed: false)
        let message = switch kind {
        case .removed where injected:
            "this range is unbacked by an injected failure (DaxFaultInjector, kind removed); the device and its file are unchanged"
        case .memoryFailureActionRequired, .memoryFailureActionOptional:
            "the kernel reported a memory failure (poison) in this range; its data cannot be trusted"
        case .pagesLost:
            "these pages were lost after a fault and replaced by anonymous memory; their contents are not the device's"
        case .removed, .unexplained, .revoked, .preRemove:
            "no memory is behind this range any more (the file was truncated or the device removed)"
        }
        return DaxError(code, operation: operation, path: device, offset: extent.lowerBound,
                        length: UInt64(extent.count), message: message)
    }
}
