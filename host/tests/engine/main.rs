//! The engine's integration tests, in one binary (each test binary links wasmtime): the real
//! host running the real components built from the workspace.

mod artifact_cache;
mod config_errors;
mod decision_cases;
mod evaluation_thread;
mod fuzz_regressions;
mod isolation;
mod layering;
mod sandbox;

use patrol_test_support::machine;
