//! The benchmark tenant's six rules (`benches/tenant/perf.toml`: the five seed policies and the
//! `write-scopes-short-lived` custom rule, 30 days), in each engine patrol is compared with.
//! Every engine turns a [`patrol::Request`] into its own input on every decision, as a gateway
//! would, and answers with the codes of the rules the request breaks.

pub mod cedar;
pub mod floor;
pub mod rego;

use patrol::Request;

/// An engine that judges requests against the six rules.
pub trait Judge {
    /// The codes of the rules `request` breaks, in any order.
    fn judge(&mut self, request: &Request) -> Vec<String>;
}

/// The codes, sorted, for comparing engines.
pub fn sorted(mut codes: Vec<String>) -> Vec<String> {
    codes.sort();
    codes
}
