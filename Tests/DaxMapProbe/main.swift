// A child process for daxmap's tests of signals that end a process: a SIGBUS
// outside daxmap's ranges must keep its previous effect, and the terminate
// policy must die with a diagnostic. Usage: daxmap-probe MODE DIR
import DaxMap
import Glibc

func complain(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

let args = CommandLine.arguments
guard args.count == 3 else {
    complain("usage: daxmap-probe foreign-sigbus|foreign-sigbus-baseline|terminate DIR\n")
    exit(2)
}
let mode = args[1], dir = args[2]
let page = Int(sysconf(Int32(_SC_PAGESIZE)))

/// A shared mapping of a 2-page file, then the file truncated to nothing: the
/// next load is a real SIGBUS (BUS_ADRERR) that daxmap does not own.
func foreignFault() -> Never {
    let path = dir + "/foreign"
    let fd = open(path, O_RDWR | O_CREAT, 0o644)
    precondition(fd >= 0 && ftruncate(fd, off_t(2 * page)) == 0)
    let p = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)!
    precondition(ftruncate(fd, 0) == 0)
    let value = p.load(fromByteOffset: page, as: UInt8.self) // SIGBUS here
    print("survived with \(value)")
    exit(0)
}

switch mode {
case "foreign-sigbus-baseline":
    foreignFault()
case "foreign-sigbus":
    do {
        try DaxMonitor.start()
        // A daxmap mapping exists too, so the handler has ranges to compare with.
        let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(4 * page))
        let mapping = try device.map()
        withExtendedLifetime(mapping) { foreignFault() }
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
case "terminate":
    do {
        let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(4 * page))
        let mapping = try device.map(options: .init(faultPolicy: .terminate))
        truncate(dir + "/dev", off_t(page))
        let value = mapping.withUnsafeMutableBytes { $0[2 * page] } // SIGBUS, policy terminate
        print("survived with \(value)")
        exit(0)
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
default:
    complain("unknown mode \(mode)\n")
    exit(2)
}
