import Glibc
import SystemPackage

/// The directory that holds a uid's retire sockets: a place no other user can
/// write, so nobody can bind a process's name first (squatting), and nobody
/// but that uid and root can even connect (flooding).
///
/// For uid U, in the order a listener tries and an asker looks:
/// 1. `/run/daxmap/U` — `/run/daxmap` owned by root and writable by root only
///    (root makes both; another uid's `/run/daxmap/U` is used when root made
///    it for that uid);
/// 2. `/run/user/U/daxmap` — inside the uid's runtime directory (systemd-logind's
///    `$XDG_RUNTIME_DIR`), for a process that is not root.
///
/// Every step is on descriptors (`openat`, `mkdirat`, with `O_NOFOLLOW`), never
/// through a symbolic link, and each directory is checked for its owner and
/// mode: a wrong one is refused, with the reason.
enum RetireDirectory {
    /// One place the sockets of a uid may be: `parent` must be owned by
    /// `parentOwner` and writable by nobody else; `name` in it is the directory.
    struct Place: Sendable, Hashable {
        var parent: String
        var parentOwner: uid_t
        var name: String
        var path: String { parent + "/" + name }
    }

    /// Why a channel's directory or socket could not be set up or used.
    struct Problem: Error, Sendable, Hashable, ExpressibleByStringInterpolation {
        var reason: String
        init(reason: String) { self.reason = reason }
        init(stringLiteral value: String) { reason = value }
    }

    static func places(for uid: uid_t) -> [Place] {
        [Place(parent: "/run/daxmap", parentOwner: 0, name: "\(uid)"),
         Place(parent: "/run/user/\(uid)", parentOwner: uid, name: "daxmap")]
    }

    /// An open descriptor of a directory checked to be `owner`'s and writable
    /// by nobody else (`private`: not even readable by anyone else).
    static func checked(_ fd: CInt, owner: uid_t, private: Bool, path: String) -> Result<CInt, RetireDirectory.Problem> {
        guard case .success(let st) = Syscalls.status(of: fd) else {
            Syscalls.close(fd)
            return .failure("\(path): fstat failed")
        }
        let forbidden: mode_t = `private` ? 0o077 : 0o022
        guard st.st_mode & S_IFMT == S_IFDIR, st.st_uid == owner, st.st_mode & forbidden == 0 else {
            Syscalls.close(fd)
            return .failure("\(path) is owned by uid \(st.st_uid) with mode \(String(st.st_mode & 0o7777, radix: 8)), not uid \(owner) and writable by nobody else; refused")
        }
        return .success(fd)
    }

    private static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW

    /// Opens (`create`: making them, root only for `/run/daxmap`) the parent and
    /// the directory of `place`, each checked.
    static func open(_ place: Place, owner uid: uid_t, create: Bool) -> Result<CInt, RetireDirectory.Problem> {
        if create && place.parentOwner == 0 && Syscalls.effectiveUserID() == 0 {
            // /run itself is root's; /run/daxmap is made once, for every uid.
            if case .success(let run) = Syscalls.open("/run", directoryFlags) {
                _ = Syscalls.makeDirectory(at: run, "daxmap", mode: 0o755)
                Syscalls.close(run)
            }
        }
        let parent: CInt
        switch Syscalls.open(place.parent, directoryFlags) {
        case .success(let fd): parent = fd
        case .failure(let e): return .failure("\(place.parent): \(Syscalls.describe(e))")
        }
        if case .failure(let why) = checked(parent, owner: place.parentOwner, private: false, path: place.parent) {
            return .failure(why) // checked() closed it
        }
        defer { Syscalls.close(parent) }
        if create {
            _ = Syscalls.makeDirectory(at: parent, place.name, mode: 0o700)
        }
        switch Syscalls.open(at: parent, place.name, directoryFlags) {
        case .success(let fd): return checked(fd, owner: uid, private: true, path: place.path)
        case .failure(let e): return .failure("\(place.path): \(Syscalls.describe(e))")
        }
    }

    /// The first place of `uid` that opens and checks, or every reason none did.
    static func open(for uid: uid_t, create: Bool) -> Result<(fd: CInt, path: String), RetireDirectory.Problem> {
        var reasons: [String] = []
        for place in places(for: uid) {
            switch open(place, owner: uid, create: create) {
            case .success(let fd): return .success((fd, place.path))
            case .failure(let why): reasons.append(why.reason)
            }
        }
        return .failure(Problem(reason: reasons.joined(separator: "; ")))
    }

    /// The effective uid of `pid` (`/proc/PID/status`, readable by everyone):
    /// the owner of its channel's directory.
    static func effectiveUID(of pid: Int32) -> uid_t? {
        guard let text = Syscalls.readText("/proc/\(pid)/status", limit: 8192),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return nil }
        let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
        return fields.count > 2 ? uid_t(fields[2]) : nil
    }
}
