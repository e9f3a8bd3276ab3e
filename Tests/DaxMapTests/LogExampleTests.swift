import Glibc
import Testing

/// `Examples/LogExample/main.swift` (the `daxlog-example` executable) is the
/// complete program of DaxLog's DocC article: compiled with the package, run
/// here, and compared with the article byte for byte so they cannot drift apart.
@Suite struct LogExampleTests {
    static let article = ExampleTests.packageRoot + "/Sources/DaxLog/DaxLog.docc/WritingAheadWithDaxLog.md"

    /// The article's fenced blocks, in order: (info string, body).
    static func blocks(_ text: String) -> [(String, String)] {
        var result: [(String, String)] = []
        var open: (String, [Substring])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let (info, body) = open {
                if line == "```" { result.append((info, body.joined(separator: "\n") + "\n")); open = nil }
                else { open = (info, body + [line]) }
            } else if line.hasPrefix("```") {
                open = (String(line.dropFirst(3)), [])
            }
        }
        return result
    }

    @Test func theArticlesSwiftBlockIsTheExampleSource() throws {
        let source = readFile(ExampleTests.packageRoot + "/Examples/LogExample/main.swift")
        let article = readFile(Self.article)
        try #require(!source.isEmpty && !article.isEmpty, "cannot read the sources under \(ExampleTests.packageRoot)")
        let swift = Self.blocks(article).filter { $0.0 == "swift" }
        #expect(swift.count == 1)
        #expect(swift.first?.1 == source, "WritingAheadWithDaxLog.md's swift block differs from Examples/LogExample/main.swift: copy the file into the block")
    }

    @Test func theExampleRunsAndPrintsWhatTheArticleSays() throws {
        let result = runProgram([buildDirectory + "/daxlog-example"])
        #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
        let printed = try #require(Self.blocks(readFile(Self.article)).first { $0.0 == "" }?.1)
        #expect(result.stdout == printed, "the article's output block differs from what daxlog-example prints")
        #expect(result.stdout.contains("append while removed: sealed\n"))
        #expect(result.stdout.hasSuffix("reopened: 1 record(s), next sequence 5, stopped at clean end\n"))
    }
}
