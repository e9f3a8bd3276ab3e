/// A raw address that may cross threads: the mapping guards its lifetime.
package struct UnsafeAddress: @unchecked Sendable {
    package let pointer: UnsafeMutableRawPointer
    package init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
