import DaxMapTestKit
import Glibc
import Testing

/// One bad input of the CLI: the command line (`{dir}` is a scratch folder
/// holding the fixtures below), the exit status, words the message must
/// have, words it must not have.
struct BadInput: Sendable, CustomTestStringConvertible {
    let args: [String]
    let exit: Int32
    let words: [String]
    var never: [String] = []
    /// Only run where the kernel refuses MADV_HWPOISON (elsewhere the row would really poison a page).
    var onlyWherePoisonIsRefused = false

    var testDescription: String { args.joined(separator: " ") }
}

/// The CLI's bad-input table, in one place: every new option gets its row. Each
/// row runs in a folder of fixtures (an emulated device, a user's notes and
/// their `.tmp`, a user's data file, crafted acknowledgement files), and after
/// every row the folder must be exactly as it was: a refused command changes
/// no file of the user's, creates none, removes none.
@Suite struct CLIBadInputTests {
    private var cli: String { buildDirectory + "/daxmap" }

    static let rows: [BadInput] = [
        BadInput(args: ["info", "/nonexistent"], exit: 1, words: ["daxmap: ", "no such file", "/nonexistent"]),
        BadInput(args: ["info", "/tmp"], exit: 1, words: ["is a directory", "/tmp"]),
        BadInput(args: ["info", "/dev/null"], exit: 1, words: ["not device-dax", "/dev/null"]),
        BadInput(args: ["info", "/dev/zero"], exit: 1, words: ["not device-dax", "/dev/zero"]),
        // Issue 26: seconds that do not fit the progress interval trapped (exit 132).
        BadInput(args: ["scrub", "{dir}/dev", "--progress-every", "nan"], exit: 64, words: ["--progress-every must be", "nan"]),
        BadInput(args: ["scrub", "{dir}/dev", "--progress-every", "inf"], exit: 64, words: ["--progress-every must be", "inf"]),
        BadInput(args: ["scrub", "{dir}/dev", "--progress-every", "1e308"], exit: 64, words: ["--progress-every must be"]),
        BadInput(args: ["scrub", "{dir}/dev", "--progress-every=-1"], exit: 64, words: ["--progress-every must be", "-1"]),
        BadInput(args: ["scrub", "{dir}/dev", "--progress-every", "0"], exit: 64, words: ["--progress-every must be"]),
        BadInput(args: ["scrub", "{dir}/dev", "--offset", "12Q"], exit: 64, words: ["scrub: {dir}/dev", "--offset '12Q' is not a byte count"]),
        BadInput(args: ["scrub", "{dir}/dev", "--length", "-1"], exit: 64, words: ["--length '-1' is not a byte count"]),
        BadInput(args: ["scrub", "{dir}/dev", "--hwpoison", "x"], exit: 64, words: ["--hwpoison 'x' is not a byte count"]),
        BadInput(args: ["scrub", "{dir}/dev", "--offset", "-1"], exit: 64, words: ["'-1' is not a byte count"]),
        BadInput(args: ["scrub", "{dir}/dev", "--offset", "18446744073709551615", "--length", "4096"], exit: 1, words: ["scrub: {dir}/dev", "overflows"]),
        BadInput(args: ["scrub", "{dir}/dev", "--offset", "100"], exit: 1, words: ["multiples of the device alignment"]),
        BadInput(args: ["scrub", "{dir}/dev", "--length", "0"], exit: 1, words: ["empty"]),
        BadInput(args: ["scrub", "{dir}/dev", "--offset", "0", "--length", "1G"], exit: 1, words: ["past the end"]),
        // Issue 26: a file that acknowledges nothing, or a line twice, passed silently (a single
        // holder that acknowledged nothing is a fact hold writes, not an error).
        BadInput(args: ["verify", "--acked", "{dir}/acked-zero"], exit: 1, words: ["acked-zero", "acknowledged no record"], never: ["recordsVerified"]),
        BadInput(args: ["verify", "--acked", "{dir}/acked-twice"], exit: 1, words: ["line 3", "repeats or overlaps line 2"], never: ["recordsVerified"]),
        BadInput(args: ["verify", "--acked", "{dir}/acked-overlap"], exit: 1, words: ["line 3", "repeats or overlaps line 2"], never: ["recordsVerified"]),
        // A huge --pace kept hold alive long past --timeout (its writers sleep the pace).
        BadInput(args: ["hold", "{dir}/dev", "--holders", "1", "--acked", "{dir}/pace-ack", "--pace", "99999999999"], exit: 64,
                 words: ["--pace must be between 1 and 1000000"], never: ["READY"]),
        // Issue 26: --acked naming a user's file replaced it (and removed its .tmp).
        BadInput(args: ["hold", "{dir}/dev", "--holders", "1", "--acked", "{dir}/notes", "--timeout", "1"], exit: 1,
                 words: ["acked: {dir}/notes", "is not a daxmap acknowledgement file"], never: ["READY"]),
        BadInput(args: ["hold", "{dir}/dev", "--holders", "1", "--acked", "{dir}/link", "--timeout", "1"], exit: 1,
                 words: ["acked: {dir}/link", "symbolic link"], never: ["READY"]),
        // Issue 26: hold and map-check overwrote a user's file without --force.
        BadInput(args: ["hold", "{dir}/userdata", "--holders", "1", "--acked", "{dir}/acked-new", "--timeout", "1"], exit: 1,
                 words: ["hold: {dir}/userdata", "holds data daxmap did not write", "1048576 bytes", "the logs of its 1 holders", "--force"], never: ["READY"]),
        BadInput(args: ["map-check", "{dir}/userdata"], exit: 1,
                 words: ["map-check: {dir}/userdata", "holds data daxmap did not write", "test pattern", "--force"]),
        // Issue 26: a refused MADV_HWPOISON had overwritten the page with 0xA5.
        BadInput(args: ["poison", "{dir}/userdata", "--offset", "4096"], exit: 4, words: ["poison refused"], onlyWherePoisonIsRefused: true),
        BadInput(args: ["scrub", "{dir}/userdata", "--hwpoison", "4096"], exit: 4, words: ["MADV_HWPOISON refused"], onlyWherePoisonIsRefused: true),
        // Issue 26: one size parser for every command (inject took 4M, hold did not).
        BadInput(args: ["hold", "{dir}/new", "--create", "4Q", "--acked", "{dir}/acked-new"], exit: 64, words: ["--create '4Q' is not a byte count"]),
        BadInput(args: ["hold", "{dir}/new", "--create=18446744073709551615", "--acked", "{dir}/acked-new"], exit: 64, words: ["--create must be between"]),
        BadInput(args: ["hold", "{dir}/new", "--create", "64K", "--holders", "0", "--acked", "{dir}/acked-new"], exit: 64, words: ["--holders must be between 1 and 256"]),
        // Issue 26: inject exited 1 on bad arguments where every other command exits 64.
        BadInput(args: ["inject", "{dir}/dev", "--offset", "x"], exit: 64, words: ["--offset 'x' is not a byte count"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "-1"], exit: 64, words: ["inject: {dir}/dev", "'-1' is not a byte count"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset=-1"], exit: 64, words: ["'-1' is not a byte count"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "18446744073709551616"], exit: 64, words: ["is not a byte count"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "99999999999G"], exit: 64, words: ["does not fit in 64 bits"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "18446744073709551615"], exit: 1, words: ["inject: {dir}/dev", "past the end"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "16G"], exit: 1, words: ["past the end"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "8M"], exit: 1, words: ["past the end"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "100"], exit: 1, words: ["multiples of the device's page size"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "0", "--length", "0"], exit: 1, words: ["zero bytes"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "4K", "--length", "-1"], exit: 64, words: ["--length '-1' is not a byte count"]),
        BadInput(args: ["inject", "{dir}/dev"], exit: 64, words: ["--offset is required"]),
        BadInput(args: ["inject", "{dir}/dev", "--offset", "0", "--kind", "bogus"], exit: 64, words: ["--kind 'bogus' is not one of media, removed"]),
        BadInput(args: ["inject", "{dir}/dev", "--clear", "--length", "4K"], exit: 64, words: ["--length needs --offset"]),
        // Issue 26: holders' errors were labelled retire.
        BadInput(args: ["holders", "{dir}/none"], exit: 64, words: ["daxmap: holders: {dir}/none"], never: ["retire:"]),
        // Issue 26: crash-test /proc said "the folder does not exist".
        BadInput(args: ["crash-test", "/proc", "--cycles", "1"], exit: 1, words: ["crash-test: /proc", "does not take new files"], never: ["does not exist"]),
        BadInput(args: ["crash-test", "{dir}/nowhere/dev", "--cycles", "1"], exit: 1, words: ["the folder does not exist"]),
        // Issue 26: --eviction-probability was ignored without --evict.
        BadInput(args: ["crash-test", "{dir}", "--eviction-probability", "0.5"], exit: 64, words: ["--eviction-probability only goes with --evict"]),
        BadInput(args: ["crash-test", "{dir}", "--evict", "--eviction-probability", "2"], exit: 64, words: ["eviction probability must be between 0 and 1"]),
        BadInput(args: ["poison", "{dir}/userdata", "--offset", "0", "--holders", "0"], exit: 64, words: ["--holders must be between 1 and 256"]),
        BadInput(args: ["poison", "{dir}/userdata", "--offset", "0", "--force"], exit: 64, words: ["only goes with --log"]),
    ]

    @Test(arguments: rows)
    func badInputIsRefusedWithItsExitAndReason(row: BadInput) throws {
        if row.onlyWherePoisonIsRefused && access("/proc/sys/vm/memory_failure_recovery", F_OK) == 0 && geteuid() == 0 {
            // Here the kernel could poison the page for real: the qemu poison scenario covers this row.
            return
        }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try makeFixtures(dir)
        let before = snapshot(dir.path)
        try #require(before.count == 8 && before.allSatisfy { !$0.isEmpty }, "the fixtures: \(before)")
        let args = row.args.map { $0.replacing("{dir}", with: dir.path) }
        let r = runProgram(["timeout", "60", cli] + args)
        #expect(r.status == row.exit, "\(args): \(r)")
        for word in row.words.map({ $0.replacing("{dir}", with: dir.path) }) {
            #expect(r.stderr.contains(word) || r.stdout.contains(word), "'\(word)' missing: \(r)")
        }
        for word in row.never { #expect(!r.stderr.contains(word) && !r.stdout.contains(word), "'\(word)' printed: \(r)") }
        #expect(snapshot(dir.path) == before, "a refused command changed the folder: \(args)")
    }

    /// The fixtures every row may name.
    private func makeFixtures(_ dir: TemporaryDirectory) throws {
        let dev = dir.file("dev")
        let fd = open(dev, O_RDWR | O_CREAT, 0o644)
        try #require(fd >= 0 && ftruncate(fd, 4 << 20) == 0)
        close(fd)
        write(dir.file("notes"), Array("keep me\n".utf8))
        write(dir.file("notes.tmp"), Array("mine too\n".utf8))
        write(dir.file("userdata"), (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
        symlink("notes", dir.file("link"))
        let device = AckLine.encode(dev)
        write(dir.file("acked-zero"), Array("daxmap-acked 2\nlog 0 0 1048576 0 \(device)\nend 1\n".utf8))
        write(dir.file("acked-twice"), Array("daxmap-acked 2\nlog 0 0 1048576 5 \(device)\nlog 0 0 1048576 5 \(device)\nend 2\n".utf8))
        write(dir.file("acked-overlap"), Array("daxmap-acked 2\nlog 0 0 1048576 5 \(device)\nlog 1 4096 1048576 5 \(device)\nend 2\n".utf8))
    }

    private func write(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Every entry of `path`: name, kind, size, and the bytes of regular files.
    private func snapshot(_ path: String) -> [String] {
        // One line per entry: name, kind, size, and the checksum of a regular file's bytes.
        runShell("cd \(quoted(path)) && for f in $(ls -A | sort); do printf '%s %s ' \"$f\" \"$(stat -c '%F %s %a' \"$f\")\"; "
            + "if [ -f \"$f\" ] && [ ! -L \"$f\" ]; then sha256sum < \"$f\"; else echo; fi; done").stdout.split(separator: "\n").map(String.init)
    }
}

/// The acknowledgement file's path encoding, for crafted files.
enum AckLine {
    static func encode(_ path: String) -> String {
        var out = ""
        for b in path.utf8 {
            if b <= 0x20 || b == 0x25 || b >= 0x7F {
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return out
    }
}
