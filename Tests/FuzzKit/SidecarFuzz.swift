import DaxMap
import DaxMapTesting
import Glibc

/// The injection sidecar's parser (`InjectionSidecar.parse`: any user who
/// can write the device's folder writes its input) on mutated valid sidecars;
/// every `slow` case also goes through a real file and `DaxFaultInjector`.
/// Checks: no crash, no hang; what parses has non-empty ranges that do not
/// overflow, and parses back unchanged from the text it renders; a malformed
/// file is a typed error naming its line.
public final class SidecarFuzz: FuzzTarget {
    public let name = "sidecar"

    static let seeds: [[UInt8]] = [
        "# daxmap injected failures of /tmp/dev: KIND OFFSET LENGTH (device offsets, bytes)\nmedia 4096 4096\nremoved 65536 8192\n",
        "removed 0 18446744073709551615\n",
        "media 0 1 # a comment\n\n\tremoved\t12288\t4096\n",
    ].map { Array($0.utf8) }

    let mutator = ByteMutator(tokens: ["media", "removed", "poison", "#", " ", "\t", "\n", "4096", "-4096", "0x10", "+1",
                                       "1e3", "\r\n"])
    let scratch: String

    public init(scratch: String) { self.scratch = scratch }

    public func run(_ random: inout FuzzRandom, slow: Bool) -> String? {
        var input = Self.seeds[random.below(Self.seeds.count)]
        var steps: [String] = []
        mutator.mutate(&input, &random, &steps)
        let text = String(decoding: input, as: UTF8.self)
        let problem: String?
        switch InjectionSidecar.parse(text) {
        case .failure(let malformed):
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            problem = malformed.line >= 1 && malformed.line <= lines ? nil : "malformed line \(malformed.line) of \(lines)"
        case .success(let failures):
            problem = check(failures)
        }
        if let problem { return "[\(steps.joined(separator: "; "))] \(problem)" }
        return slow ? throughFile(input) : nil
    }

    private func check(_ failures: [DaxInjectedFailure]) -> String? {
        if let empty = failures.first(where: { $0.range.isEmpty }) { return "empty range accepted: \(empty)" }
        let rendered = failures.map { "\($0.kind) \($0.range.lowerBound) \($0.range.upperBound - $0.range.lowerBound)\n" }.joined()
        guard case .success(let again) = InjectionSidecar.parse(rendered) else { return "its rendering does not parse: \(rendered)" }
        return again == failures ? nil : "does not survive rendering: \(failures) -> \(again)"
    }

    /// The same input as a real sidecar: the injector reads it or throws a typed error.
    private func throughFile(_ input: [UInt8]) -> String? {
        let path = scratch + "/sidecar-dev"
        do {
            let device = try DaxDevice.createEmulated(at: path, size: 1 << 20)
            defer { device.close() }
            let injector = try DaxFaultInjector(device)
            let fd = Syscalls.open(injector.sidecarPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard case .success(let f) = fd else { return "cannot write \(injector.sidecarPath)" }
            _ = input.withUnsafeBytes { Syscalls.writeAll(f, $0) } // a short sidecar is fuzz input too
            Syscalls.close(f)
            defer { _ = Syscalls.unlink(injector.sidecarPath) }
            do throws(DaxError) { _ = try injector.injected() } catch {
                return error.code == .invalidArgument || error.code == .system ? nil : "threw \(error.code): \(error)"
            }
            return nil
        } catch {
            return "setup failed: \(error)"
        }
    }
}
