import SwiftQuant
import SwiftQuantBench
/// A Float as JSON: finite numbers as shortest round-trip text, otherwise `null`.
///
/// The one number formatter of every `--json` report (plan, convert, verify).
func jsonFloat(_ value: Float?) -> String {
    guard let value, value.isFinite else { return "null" }
    return "\(value)"
}
