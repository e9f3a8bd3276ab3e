import DaxMap

extension JSON {
    /// The CLI's rendering of a discovery listing; the key choice and order
    /// are the library's (`ListingValue`), which is where they are tested.
    init(_ value: ListingValue) {
        switch value {
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .uint(let u): self = .uint(u)
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(JSON.init))
        case .object(let fields): self = .object(fields.map { ($0.key, JSON($0.value)) })
        }
    }
}
