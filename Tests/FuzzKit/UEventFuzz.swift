import DaxMap

/// The uevent parser (`UEvent(kernelMessage:)`) on mutated real kernel
/// messages (qemu NVDIMM captures, Tests/DaxMapTests/Fixtures). Checks: no
/// crash, no hang; the length limit holds; what parses agrees with its header
/// and its own fields, and parses back unchanged from the message it renders.
public final class UEventFuzz: FuzzTarget {
    public let name = "uevent"

    static let seeds: [[UInt8]] = [
        "add@/devices/virtual/bdi/259:1|ACTION=add|DEVPATH=/devices/virtual/bdi/259:1|SUBSYSTEM=bdi|SEQNUM=857|",
        "add@/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0|ACTION=add|DEVPATH=/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0|SUBSYSTEM=nd|DEVTYPE=nd_dax|MODALIAS=nd:t7|SEQNUM=879|",
        "unbind@/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0|ACTION=unbind|DEVPATH=/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0|SUBSYSTEM=dax|MAJOR=252|MINOR=0|DEVNAME=dax0.0|SEQNUM=867|",
        "bind@/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0|ACTION=bind|DEVPATH=/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0|SUBSYSTEM=dax|MAJOR=252|MINOR=0|DEVNAME=dax0.0|DRIVER=device_dax|MODALIAS=dax:t0|SEQNUM=884|",
        "remove@/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.1|ACTION=remove|DEVPATH=/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.1|SUBSYSTEM=nd|DEVTYPE=nd_dax|MODALIAS=nd:t7|SEQNUM=892|",
    ].map { $0.utf8.map { $0 == UInt8(ascii: "|") ? 0 : $0 } }

    let mutator = ByteMutator(tokens: [
        "ACTION=", "DEVPATH=", "SUBSYSTEM=", "SEQNUM=", "MAJOR=", "MINOR=", "DEVNAME=", "DRIVER=", "DEVTYPE=", "=", "@",
        "@/", "libudev\0", "ACTION=add\0", "SEQNUM=18446744073709551616\0", "MAJOR=-1\0", "MINOR=4294967296\0", "/", "\0\0",
    ])

    public init() {}

    public func run(_ random: inout FuzzRandom, slow: Bool) -> String? {
        var input = Self.seeds[random.below(Self.seeds.count)]
        var steps: [String] = []
        mutator.mutate(&input, &random, &steps)
        if let problem = check(input) { return "[\(steps.joined(separator: "; "))] \(problem)" }
        return nil
    }

    func check(_ input: [UInt8]) -> String? {
        let event: UEvent
        do throws(DaxError) { event = try UEvent(kernelMessage: input) } catch {
            return error.code == .invalidArgument ? nil : "threw \(error.code), not invalidArgument: \(error)"
        }
        if input.count > UEvent.maximumMessageLength { return "accepted \(input.count) bytes" }
        guard event["ACTION"] == event.action.description, event["DEVPATH"] == event.devpath,
              event["SUBSYSTEM"] == event.subsystem, event["SEQNUM"].flatMap({ UInt64($0) }) == event.seqnum else {
            return "fields disagree with the event: \(event)"
        }
        guard event.devpath.hasPrefix("/") else { return "devpath \(event.devpath) accepted" }
        var again: [UInt8] = Array("\(event.action)@\(event.devpath)".utf8) + [0]
        for p in event.properties { again += Array("\(p.key)=\(p.value)".utf8) + [0] }
        guard let reparsed = try? UEvent(kernelMessage: again) else { return "its rendering does not parse: \(event)" }
        return reparsed == event ? nil : "does not survive rendering: \(event) -> \(reparsed)"
    }
}
