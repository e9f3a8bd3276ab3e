/// `Array.withUnsafe*Bytes` rethrow untyped errors; these keep the typed ones.
func withBytes<R, E: Error>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let r: Result<R, E> = a.withUnsafeBytes { b in
        do throws(E) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try r.get()
}

func withMutableBytes<R, E: Error>(_ a: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let r: Result<R, E> = a.withUnsafeMutableBytes { b in
        do throws(E) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try r.get()
}
