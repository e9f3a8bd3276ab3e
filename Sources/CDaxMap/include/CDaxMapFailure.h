// The failure vocabulary in C: what failed (CDAXMAP_FAILED_*), the facts the
// signal handler adds about how it met it (CDAXMAP_EVENT_*), and the record it
// writes for Swift to read (struct cdaxmap_fault). Part of CDaxMap (included
// by CDaxMap.h); not API.
//
// This header is the C mirror of Swift's `FailureCause`
// (Sources/DaxMap/Faults/FailureCause.swift): each CDAXMAP_FAILED_* value is
// the raw value of one `FailureCause.Kind` case, and a test
// (FailureVocabularyTests) checks that they agree and that the record's layout
// is what Swift reads. A new kind of failure is a value here and a case there.
#ifndef CDAXMAP_FAILURE_H
#define CDAXMAP_FAILURE_H

#ifdef __linux__

#include <stddef.h>
#include <stdint.h>

// MARK: - What failed

/// The handler decides one of these for every fault it records
/// (cdaxmap_fault.failure), once; the range table marks extents with POISON,
/// LOST or REMOVED (a mark does not say whether poison was consumed).
#define CDAXMAP_FAILED_NONE 0          ///< no failure the kernel named (another si_code): reported only
#define CDAXMAP_FAILED_POISON 1        ///< memory failure, action required: poison consumed (BUS_MCEERR_AR,
                                       ///  or a trap of injected poison); as a mark: poison, either way
#define CDAXMAP_FAILED_LOST 2          ///< replaced by anonymous memory after an unguarded fault (marks only:
                                       ///  a record says CDAXMAP_EVENT_REPLACED beside what failed)
#define CDAXMAP_FAILED_REMOVED 3       ///< no memory behind it (BUS_ADRERR: truncated or unbound)
#define CDAXMAP_FAILED_POISON_NOTICE 4 ///< memory failure, action optional: poison found, not consumed
                                       ///  (BUS_MCEERR_AO; marked CDAXMAP_FAILED_POISON)
#define CDAXMAP_FAILED_REVOKED 5       ///< an access after the range was revoked or closed (SIGSEGV on the
                                       ///  PROT_NONE reservation, a guarded access whose slot was freed)
#define CDAXMAP_FAILED_PRE_REMOVE 6    ///< the whole device is going (planned removal); never from the
                                       ///  handler: decided by the removal run
/// How many CDAXMAP_FAILED_* values there are (they are 0 ..< this).
#define CDAXMAP_FAILED_KINDS 7

// MARK: - How the handler met it

/// Fault-record flags (cdaxmap_fault.flags).
#define CDAXMAP_EVENT_GUARDED 0x1u      ///< raised inside a guarded access, which threw
#define CDAXMAP_EVENT_REPLACED 0x2u     ///< failed pages replaced by anonymous memory
#define CDAXMAP_EVENT_REVOKED 0x4u      ///< the range had been revoked
#define CDAXMAP_EVENT_TERMINATE 0x8u    ///< policy terminate (never drained: the process dies)
#define CDAXMAP_EVENT_UNREGISTERED 0x10u ///< a guarded access faulted at an address no slot holds
                                         ///  (its mapping was closed under it, or the caller's
                                         ///  own buffer faulted); only in a guard's result, never
                                         ///  in the ring; mapping_id is 0
/// The BUS_ADRERR hit a trap of an injected media failure (inject.c): the
/// record carries the page's si_addr_lsb and failure CDAXMAP_FAILED_POISON.
#define CDAXMAP_EVENT_INJECTED_POISON 0x20u
/// The BUS_ADRERR hit a trap of injected removed memory: only the injected
/// extent is gone, not the rest of the mapping.
#define CDAXMAP_EVENT_INJECTED_REMOVED 0x40u

// MARK: - The record

/// One fault as the handler saw it. Turned into Swift's `FailureCause` by
/// `FailureCause(record:)`, and into device terms by `FaultClassifier`.
struct cdaxmap_fault {
    uint64_t sequence;     ///< process-wide order of faults
    uint64_t mapping_id;   ///< from the range table (0: CDAXMAP_EVENT_UNREGISTERED)
    uint64_t address;      ///< si_addr
    uint64_t range_start;  ///< start of the registered range that contains it
    uint64_t lost_start;   ///< replaced range (CDAXMAP_EVENT_REPLACED), else 0
    uint64_t lost_length;
    int32_t signo;         ///< SIGBUS or SIGSEGV
    int32_t code;          ///< si_code: BUS_ADRERR, BUS_MCEERR_AR, BUS_MCEERR_AO, SEGV_ACCERR...
    int32_t addr_lsb;      ///< si_addr_lsb (log2 of the failed extent) for MCEERR, else 0
    int32_t tid;           ///< thread that took the signal
    uint32_t flags;        ///< CDAXMAP_EVENT_*
    uint32_t failure;      ///< CDAXMAP_FAILED_*: what failed, as the handler decided it
    uint64_t epoch;        ///< cdaxmap_epoch_now() when the handler recorded it
};

// Swift reads the record with the layout its importer computes from this
// struct; these pin the layout FailureVocabularyTests checks from Swift, so a
// field moved on one side only fails to build or fails that test.
_Static_assert(sizeof(struct cdaxmap_fault) == 80, "cdaxmap_fault layout changed: update FailureVocabularyTests");
_Static_assert(offsetof(struct cdaxmap_fault, address) == 16, "cdaxmap_fault.address moved");
_Static_assert(offsetof(struct cdaxmap_fault, signo) == 48, "cdaxmap_fault.signo moved");
_Static_assert(offsetof(struct cdaxmap_fault, flags) == 64, "cdaxmap_fault.flags moved");
_Static_assert(offsetof(struct cdaxmap_fault, failure) == 68, "cdaxmap_fault.failure moved");
_Static_assert(offsetof(struct cdaxmap_fault, epoch) == 72, "cdaxmap_fault.epoch moved");
_Static_assert(CDAXMAP_FAILED_PRE_REMOVE + 1 == CDAXMAP_FAILED_KINDS, "CDAXMAP_FAILED_KINDS counts the values");

#endif // __linux__
#endif // CDAXMAP_FAILURE_H
