/// `Array.withUnsafe*Bytes` rethrow untyped errors; these keep the typed ones.
/// No `Result` in between: a `Result` of a large error (`DaxLogError`) is
/// moved with a `memmove` on every call, error or not (seen in append profiles).
func withBytes<R, E: Error>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    var failure: E?
    let r: R? = a.withUnsafeBytes { b in
        do throws(E) { return try body(b) } catch {
            failure = error
            return nil
        }
    }
    if let failure { throw failure }
    return r!
}

func withMutableBytes<R, E: Error>(_ a: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    var failure: E?
    let r: R? = a.withUnsafeMutableBytes { b in
        do throws(E) { return try body(b) } catch {
            failure = error
            return nil
        }
    }
    if let failure { throw failure }
    return r!
}
