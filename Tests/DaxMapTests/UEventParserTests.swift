import Glibc
import Testing
@testable import DaxMap

/// The real kernel captures in Fixtures/kernel-6.12-qemu-nvdimm, as raw messages.
enum UEventFixtures {
    /// Messages under one `# MARK` line.
    struct Section {
        var mark: String
        var messages: [[UInt8]]
    }

    static let directory: String = {
        // #filePath is this file; the fixtures sit beside it. No Foundation: plain string work.
        let file = "\(#filePath)"
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures/kernel-6.12-qemu-nvdimm"
    }()

    static func text(_ name: String) -> String {
        guard let text = Syscalls.readText(directory + "/" + name, limit: 1 << 20) else {
            fatalError("fixture \(name) not readable in \(directory)")
        }
        return text
    }

    /// `|` in the capture stands for the NUL byte the kernel sent.
    static func sections(_ name: String) -> [Section] {
        var sections: [Section] = []
        for line in text(name).split(separator: "\n") {
            if line.hasPrefix("# MARK ") {
                sections.append(Section(mark: String(line.dropFirst("# MARK ".count)), messages: []))
            } else if !line.isEmpty {
                precondition(!sections.isEmpty, "message before the first MARK in \(name)")
                sections[sections.count - 1].messages.append(line.utf8.map { $0 == UInt8(ascii: "|") ? 0 : $0 })
            }
        }
        return sections
    }

    static var allMessages: [[UInt8]] {
        (sections("uevents-devdax.txt") + sections("uevents-fsdax.txt")).flatMap(\.messages)
    }

    static func bytes(_ s: String) -> [UInt8] { s.utf8.map { $0 == UInt8(ascii: "|") ? 0 : $0 } }
}

@Suite struct UEventParserTests {
    @Test func parsesEveryFixtureMessage() throws {
        let messages = UEventFixtures.allMessages
        #expect(messages.count == 50 + 20)  // devdax + fsdax captures, MARK lines excluded
        var lastSeqnum: UInt64 = 0
        for message in messages {
            let event = try UEvent(kernelMessage: message)
            #expect(event.devpath.hasPrefix("/devices/"))
            #expect(event["ACTION"] == event.action.description)
            // The captures are gap-free: SEQNUM counts up by one.
            if lastSeqnum != 0 { #expect(event.seqnum == lastSeqnum + 1) }
            lastSeqnum = event.seqnum
        }
    }

    @Test func devdaxUnbindFields() throws {
        let section = UEventFixtures.sections("uevents-devdax.txt").first { $0.mark == "A-device_dax-unbind" }!
        let event = try UEvent(kernelMessage: section.messages[0])
        #expect(event.action == .unbind)
        #expect(event.devpath == "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0")
        #expect(event.subsystem == "dax")
        #expect(event.devname == "dax0.0")
        #expect(event.major == 252 && event.minor == 0)
        #expect(event.seqnum == 867)
        #expect(event.driver == nil && event.devtype == nil)
        #expect(event.properties.map(\.key) == ["ACTION", "DEVPATH", "SUBSYSTEM", "MAJOR", "MINOR", "DEVNAME", "SEQNUM"])
        #expect(event.description == "unbind@" + event.devpath)
    }

    @Test func bindCarriesDriverAndDevtype() throws {
        let e = try UEvent(kernelMessage: UEventFixtures.bytes(
            "bind@/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0|ACTION=bind|DEVPATH=/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0|SUBSYSTEM=nd|DEVTYPE=nd_dax|DRIVER=dax_pmem|MODALIAS=nd:t7|SEQNUM=874|"))
        #expect(e.action == .bind && e.subsystem == "nd" && e.devtype == "nd_dax" && e.driver == "dax_pmem")
        #expect(e["MODALIAS"] == "nd:t7" && e.major == nil && e.devname == nil)
    }

    @Test func fsdaxBlockRemove() throws {
        let section = UEventFixtures.sections("uevents-fsdax.txt").first { $0.mark == "F-nd_pmem-unbind-pfn0.0" }!
        let event = try UEvent(kernelMessage: section.messages[1])
        #expect(event.action == .remove && event.subsystem == "block" && event.devtype == "disk")
        #expect(event.devname == "pmem0" && event.major == 259 && event.minor == 0 && event["DISKSEQ"] == "4")
    }

    @Test func unknownActionIsKept() throws {
        let e = try UEvent(kernelMessage: UEventFixtures.bytes("frobnicate@/devices/x|ACTION=frobnicate|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|"))
        #expect(e.action == .other("frobnicate"))
    }

    /// Each malformed message and a word its error must contain.
    static let malformed: [(String, String)] = [
        ("", "empty"),
        ("|", "empty header"),
        ("add/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|", "ACTION@DEVPATH"),
        ("@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|", "ACTION@DEVPATH"),
        ("add@|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|", "ACTION@DEVPATH"),
        ("add@/devices/x|ACTION=remove|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|", "disagrees"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/y|SUBSYSTEM=s|SEQNUM=1|", "disagrees"),
        ("add@/devices/x|ACTION=add|SUBSYSTEM=s|SEQNUM=1|", "no DEVPATH"),
        ("add@/devices/x|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|", "no ACTION"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SEQNUM=1|", "no SUBSYSTEM"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|", "no SEQNUM"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=-1|", "not a number"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|MAJOR=4294967296|", "not a number"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|NOEQUALS|SEQNUM=1|", "KEY=VALUE"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x|=v|SUBSYSTEM=s|SEQNUM=1|", "KEY=VALUE"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x||SUBSYSTEM=s|SEQNUM=1|", "empty field"),
        ("add@/devices/x|ACTION=add|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|", "twice"),
        ("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1", "truncated"),
        ("libudev|\u{fe}\u{ed}\u{ca}\u{fe}ACTION=add|", "libudev"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformed(message: String, expected: String) {
        #expect {
            try UEvent(kernelMessage: UEventFixtures.bytes(message))
        } throws: { error in
            let e = error as! DaxError
            return e.code == .invalidArgument && e.operation == "parse uevent" && e.message.contains(expected)
        }
    }

    @Test func rejectsInvalidUTF8() {
        var m = UEventFixtures.bytes("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|")
        m.insert(contentsOf: [0xff, 0xfe], at: m.count - 3)
        #expect(throws: DaxError.self) { try UEvent(kernelMessage: m) }
        var h = UEventFixtures.bytes("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|")
        h[5] = 0xc3  // a lone UTF-8 lead byte in the header
        #expect(throws: DaxError.self) { try UEvent(kernelMessage: h) }
    }

    @Test func rejectsAbsurdLength() {
        let long = UEventFixtures.bytes("add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=s|SEQNUM=1|X=")
            + [UInt8](repeating: UInt8(ascii: "a"), count: UEvent.maximumMessageLength) + [0]
        #expect { try UEvent(kernelMessage: long) } throws: { ($0 as! DaxError).message.contains("longer") }
    }

    /// Mutations of real messages, seeded so a failure can be replayed: the parser must
    /// either parse or throw DaxError, never trap.
    @Test func fuzzMutatedFixtures() {
        var rng = SplitMix64(seed: 0xDA7_5EED)
        let corpus = UEventFixtures.allMessages
        var parsed = 0, rejected = 0
        for _ in 0..<20_000 {
            var m = corpus[Int(rng.next() % UInt64(corpus.count))]
            for _ in 0...(rng.next() % 4) {
                let position = m.isEmpty ? 0 : Int(rng.next() % UInt64(m.count))
                switch rng.next() % 6 {
                case 0: m.removeSubrange(position...)  // truncate
                case 1: if !m.isEmpty { m[position] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8)) }
                case 2: m.insert(0, at: position)  // insert NUL
                case 3: if !m.isEmpty { m[position] = UInt8(truncatingIfNeeded: rng.next()) }
                case 4: m.insert(UInt8(ascii: "="), at: position)
                default: if !m.isEmpty { m.remove(at: position) }
                }
            }
            do throws(DaxError) {
                _ = try UEvent(kernelMessage: m)
                parsed += 1
            } catch {
                #expect(error.code == .invalidArgument)
                rejected += 1
            }
        }
        // Both paths must be exercised, or the fuzzer is not fuzzing.
        #expect(parsed > 100 && rejected > 100)
    }
}

/// A tiny seeded PRNG (SplitMix64), so fuzz runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
