import Glibc
import Testing
@testable import DaxMap

/// Bad input: every case gets a typed error naming the path and the reason.
@Suite struct DeviceOpeningTests {
    @Test func missingPathIsNotFound() throws {
        let error = #expect(throws: DaxError.self) { try DaxDevice.open("/nonexistent/daxmap/dev") }
        #expect(error?.code == .notFound)
        #expect(error?.path == "/nonexistent/daxmap/dev")
        #expect(error?.description.contains("no such file") == true)
    }

    @Test func directoryIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: DaxError.self) { try DaxDevice.open(dir.path) }
        #expect(error?.code == .notADaxDevice)
        #expect(error?.message.contains("directory") == true)
    }

    @Test(arguments: ["/dev/null", "/dev/zero"])
    func characterDeviceThatIsNotDaxIsRefused(path: String) throws {
        let error = #expect(throws: DaxError.self) { try DaxDevice.open(path) }
        #expect(error?.code == .notADaxDevice)
        #expect(error?.message.contains("subsystem 'mem'") == true)
    }

    @Test func blockDeviceSaysHowToMakeItMappable() throws {
        // Any block device will do: the check is on the file type, before any open.
        let candidates = ["/dev/pmem0", "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0", "/dev/ram0"]
        var st = stat()
        guard let path = candidates.first(where: { stat($0, &st) == 0 && st.st_mode & S_IFMT == S_IFBLK }) else {
            Issue.record("no block device on this machine to test with")
            return
        }
        let error = #expect(throws: DaxError.self) { try DaxDevice.open(path) }
        #expect(error?.code == .blockDeviceNotMappable)
        #expect(error?.message.contains("-o dax") == true)
        #expect(error?.message.contains("devdax") == true)
    }

    @Test func emulatedDeviceIsCreatedAtSizeWithPageGranularity() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 8 << 20)
        #expect(device.kind == .emulated)
        #expect(device.size == 8 << 20)
        #expect(device.alignment == UInt64(pageSize))
        #expect(device.granularity == .page)
        #expect(device.sysfsDevicePath == nil)
    }

    @Test func zeroSizedEmulatedDeviceIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: DaxError.self) { try DaxDevice.createEmulated(at: dir.file("dev"), size: 0) }
        #expect(error?.code == .invalidArgument)
    }

    @Test func cacheLineGranularityOnAPlainFileIsMapSyncUnsupported() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        _ = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        let error = #expect(throws: DaxError.self) {
            try DaxDevice.open(dir.file("dev"), options: .init(requiredGranularity: .cacheLine))
        }
        #expect(error?.code == .mapSyncUnsupported)
        #expect(error?.errno != nil) // the kernel's own answer to MAP_SYNC
        #expect(error?.message.contains("MAP_SYNC") == true)
    }

    @Test func permissionDeniedIsTyped() throws {
        // Root bypasses file permissions, so ask the kernel as an unprivileged user,
        // through the CLI (which also checks the non-zero exit).
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        chmod(path, 0o600)
        chmod(dir.path, 0o755)
        let cli = buildDirectory + "/daxmap"
        let result = runProgram(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", cli, "info", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("permission denied"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains(path))
    }
}
