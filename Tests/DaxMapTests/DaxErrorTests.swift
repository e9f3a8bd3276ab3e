import Testing
@testable import DaxMap

@Suite struct DaxErrorTests {
    @Test func printsOperationPathMessageAndErrno() {
        let e = DaxError(.notFound, operation: "open", path: "/nope", errno: .noSuchFileOrDirectory, message: "no such file")
        #expect(e.description == "open: /nope: no such file (errno: 2)")
    }
}
