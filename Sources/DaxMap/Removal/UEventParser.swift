// Parsing the kernel's uevent wire format: `ACTION@DEVPATH\0KEY=VALUE\0...KEY=VALUE\0`.
//
// The bytes come from a socket anyone with CAP_NET_ADMIN (or a bug) can write to, so
// the parser trusts nothing: every rule below rejects with a thrown DaxError, never a trap.
// The required fields are the ones systemd's device_new_from_nulstr() insists on.

extension UEvent {
    /// The longest message accepted. The kernel caps the environment at
    /// `UEVENT_BUFFER_SIZE` (2048 bytes) plus the header; anything far beyond is not a uevent.
    package static let maximumMessageLength = 8192

    /// Parses one raw `NETLINK_KOBJECT_UEVENT` message as the kernel sends it.
    ///
    /// - Parameter bytes: the datagram, including the final NUL.
    /// - Throws: `DaxError` with code `.invalidArgument` when the message is empty, too long,
    ///   in libudev's format (from user space, not the kernel), lacks the `ACTION@DEVPATH`
    ///   header or a final NUL, holds a field that is not valid UTF-8 or has no `=`,
    ///   repeats a key, lacks `ACTION`, `DEVPATH`, `SUBSYSTEM` or `SEQNUM`, disagrees with
    ///   its header, or has a non-numeric `MAJOR`, `MINOR` or `SEQNUM`.
    package init(kernelMessage bytes: some Collection<UInt8>) throws(DaxError) {
        let bytes = Array(bytes)
        guard !bytes.isEmpty else { throw Self.malformed("empty message") }
        guard bytes.count <= Self.maximumMessageLength else {
            throw Self.malformed("message of \(bytes.count) bytes is longer than the \(Self.maximumMessageLength) a uevent can be")
        }
        // libudev re-broadcasts events with this magic prefix; those come from user space.
        if bytes.starts(with: Array("libudev".utf8) + [0]) {
            throw Self.malformed("libudev-format message: sent by user space (udevd), not by the kernel")
        }
        guard bytes.last == 0 else {
            throw Self.malformed("message does not end with NUL: truncated")
        }
        var fields = bytes.dropLast().split(separator: 0, omittingEmptySubsequences: false)
        let header = try Self.text(fields.removeFirst(), what: "header")
        guard let at = header.firstIndex(of: "@") else {
            throw Self.malformed("header '\(Self.clip(header))' is not ACTION@DEVPATH")
        }
        let headerAction = String(header[..<at])
        let headerPath = String(header[header.index(after: at)...])
        guard !headerAction.isEmpty, headerPath.hasPrefix("/") else {
            throw Self.malformed("header '\(Self.clip(header))' is not ACTION@DEVPATH")
        }

        var properties: [Property] = []
        properties.reserveCapacity(fields.count)
        var seen = Set<String>()
        for field in fields {
            let text = try Self.text(field, what: "field")
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw Self.malformed("field '\(Self.clip(text))' is not KEY=VALUE")
            }
            let key = String(text[..<eq])
            guard seen.insert(key).inserted else { throw Self.malformed("key \(key) appears twice") }
            properties.append(Property(key: key, value: String(text[text.index(after: eq)...])))
        }

        func value(_ key: String) -> String? { properties.first { $0.key == key }?.value }
        func required(_ key: String) throws(DaxError) -> String {
            guard let v = value(key) else { throw Self.malformed("no \(key)") }
            return v
        }
        func number<N: FixedWidthInteger>(_ key: String, _: N.Type) throws(DaxError) -> N? {
            guard let v = value(key) else { return nil }
            guard let n = N(v, radix: 10) else { throw Self.malformed("\(key)=\(Self.clip(v)) is not a number") }
            return n
        }

        let action = try required("ACTION")
        guard action == headerAction else {
            throw Self.malformed("ACTION=\(Self.clip(action)) disagrees with header action \(Self.clip(headerAction))")
        }
        let devpath = try required("DEVPATH")
        guard devpath == headerPath else {
            throw Self.malformed("DEVPATH=\(Self.clip(devpath)) disagrees with header path \(Self.clip(headerPath))")
        }
        self.action = Action(action)
        self.devpath = devpath
        self.subsystem = try required("SUBSYSTEM")
        guard let seqnum = try number("SEQNUM", UInt64.self) else { throw Self.malformed("no SEQNUM") }
        self.seqnum = seqnum
        self.major = try number("MAJOR", UInt32.self)
        self.minor = try number("MINOR", UInt32.self)
        self.devtype = value("DEVTYPE")
        self.devname = value("DEVNAME")
        self.driver = value("DRIVER")
        self.properties = properties
    }

    private static func text(_ bytes: ArraySlice<UInt8>, what: String) throws(DaxError) -> String {
        guard !bytes.isEmpty else { throw malformed("empty \(what)") }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw malformed("\(what) is not valid UTF-8") }
        return s
    }

    /// Keeps error messages short when the input is junk.
    private static func clip(_ s: String) -> String {
        s.count <= 80 ? s : String(s.prefix(80)) + "..."
    }

    private static func malformed(_ why: String) -> DaxError {
        DaxError(.invalidArgument, operation: "parse uevent", message: "malformed uevent: \(why)")
    }
}
