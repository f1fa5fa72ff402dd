//! The service's integration tests, in one binary: the HTTP API through its router, in
//! process, on fresh data directories.

mod console;
mod gateways;
mod router;
mod scim;
mod server_api;
mod server_hardening;

pub use patrol_test_support::{component, example_request, root};
