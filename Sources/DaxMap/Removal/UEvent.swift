/// One kernel uevent: a device was added, removed, bound to or unbound from a driver, or changed.
///
/// A value type: copy it freely across threads. Build one from the raw bytes of a
/// `NETLINK_KOBJECT_UEVENT` message with ``init(kernelMessage:)``; daxmap's uevent listener
/// does that for you.
public struct UEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened to the device. The kernel names these in `kobject_actions[]`.
    public enum Action: Sendable, Hashable, CustomStringConvertible {
        case add, remove, bind, unbind, change, move, online, offline
        /// An action this library does not know (newer kernels may add some).
        case other(String)

        public init(_ name: String) {
            switch name {
            case "add": self = .add
            case "remove": self = .remove
            case "bind": self = .bind
            case "unbind": self = .unbind
            case "change": self = .change
            case "move": self = .move
            case "online": self = .online
            case "offline": self = .offline
            default: self = .other(name)
            }
        }

        /// The kernel's name of the action, e.g. `unbind`.
        public var description: String {
            switch self {
            case .add: "add"
            case .remove: "remove"
            case .bind: "bind"
            case .unbind: "unbind"
            case .change: "change"
            case .move: "move"
            case .online: "online"
            case .offline: "offline"
            case .other(let name): name
            }
        }
    }

    /// One `KEY=VALUE` field of the message, in the order the kernel sent it.
    public struct Property: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// `ACTION`.
    public var action: Action
    /// `DEVPATH`: the device's path under `/sys`, without the `/sys` prefix.
    public var devpath: String
    /// `SUBSYSTEM`, e.g. `dax`, `nd`, `block`.
    public var subsystem: String
    /// `DEVTYPE`, e.g. `nd_dax`, `disk`.
    public var devtype: String?
    /// `DEVNAME`: the node name under `/dev`, e.g. `dax0.0`.
    public var devname: String?
    /// `DRIVER`: present on `bind`, absent on `unbind`.
    public var driver: String?
    /// `MAJOR` of the device node.
    public var major: UInt32?
    /// `MINOR` of the device node.
    public var minor: UInt32?
    /// `SEQNUM`: the kernel's global uevent counter; a gap means events were missed.
    public var seqnum: UInt64
    /// Every field of the message, in order, including the ones above.
    public var properties: [Property]

    /// The value of the first field named `key`, if any.
    public subscript(key: String) -> String? {
        properties.first { $0.key == key }?.value
    }

    /// `action@devpath`, as the header of the kernel message.
    public var description: String { "\(action)@\(devpath)" }
}
