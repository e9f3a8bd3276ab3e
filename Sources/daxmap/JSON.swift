import DaxMap

/// The CLI's JSON is the package's one JSON value and encoder (`JSONValue`,
/// Sources/DaxMap/System): keys print in the order given, like `daxctl list`
/// and `ndctl list`, and the listing and the retire channel render the same way.
typealias JSON = JSONValue
