/// One kernel uevent: a device was added, removed, bound to or unbound from a driver, or changed.
///
/// A value type: copy it freely across threads. Build one from the raw bytes of a
/// `NETLINK_KOBJECT_UEVENT` message with ``init(kernelMessage:)``; daxmap's uevent listener
/// does that for you.
///
/// Package-level: the monitor's input, not users' API. Users see what happened to which
/// device in ``DaxMonitorEvent``'s `uevent(action:devpath:)`.
package struct UEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened to the device. The kernel names these in `kobject_actions[]`.
    package enum Action: Sendable, Hashable, CustomStringConvertible {
        case add, remove, bind, unbind, change, move, online, offline
        /// An action this library does not know (newer kernels may add some).
        case other(String)

        package init(_ name: String) {
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
        package var description: String {
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
    package struct Property: Sendable, Hashable {
        package var key: String
        package var value: String
        package init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// `ACTION`.
    package var action: Action
    /// `DEVPATH`: the device's path under `/sys`, without the `/sys` prefix.
    package var devpath: String
    /// `SUBSYSTEM`, e.g. `dax`, `nd`, `block`.
    package var subsystem: String
    /// `DEVTYPE`, e.g. `nd_dax`, `disk`.
    package var devtype: String?
    /// `DEVNAME`: the node name under `/dev`, e.g. `dax0.0`.
    package var devname: String?
    /// `DRIVER`: present on `bind`, absent on `unbind`.
    package var driver: String?
    /// `MAJOR` of the device node.
    package var major: UInt32?
    /// `MINOR` of the device node.
    package var minor: UInt32?
    /// `SEQNUM`: the kernel's global uevent counter; a gap means events were missed.
    package var seqnum: UInt64
    /// Every field of the message, in order, including the ones above.
    package var properties: [Property]

    /// The value of the first field named `key`, if any.
    package subscript(key: String) -> String? {
        properties.first { $0.key == key }?.value
    }

    /// `action@devpath`, as the header of the kernel message.
    package var description: String { "\(action)@\(devpath)" }
}
