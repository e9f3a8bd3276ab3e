extension RetireMarker {
    /// Throws `.deviceGoing` when a planned removal (``DaxRetirement``) of
    /// one of `keys` runs in any process, naming the retirer: what `open` and
    /// `map` check first.
    static func refuseWhileRetiring(_ keys: [String], operation: String, path: String) throws(DaxError) {
        guard let retirer = retirer(ofAnyOf: keys) else { return }
        throw DaxError(.deviceGoing, operation: operation, path: path,
                       message: "a planned removal (daxmap retire) by \(retirer) is under way; new opens and mappings are refused until it finishes")
    }
}
