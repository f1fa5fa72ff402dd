//! Evaluates one request against the benchmark tenant in a loop, for profilers:
//!
//! ```sh
//! cargo build --release -p patrol-benches --example profile_decision --features profiling
//! valgrind --tool=callgrind target/release/examples/profile_decision create 2000
//! valgrind --tool=callgrind target/release/examples/profile_decision instantiate 2000
//! perf record -e cpu-clock -g target/release/examples/profile_decision create 200000
//! perf record -e cpu-clock -g target/release/examples/profile_decision create 200000 prepared
//! ```
//!
//! `prepared` runs on an evaluation thread, tidying after each decision, as `patrol serve`
//! does: the decision then uses instances prepared ahead (`patrol::EvaluationThread`).

#[path = "../fixtures.rs"]
mod fixtures;

use std::hint::black_box;

use patrol::{Engine, EngineConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let request = args.next().unwrap_or_else(|| "create".to_string());
    let count: usize = args.next().map_or(10_000, |n| n.parse().expect("a count"));
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    let tenant = fixtures::benchmark_tenant(&engine);
    if request == "instantiate" {
        // Only create and drop fresh instances of the custom policy.
        let bytes = fixtures::component("write_scopes_short_lived");
        let component = patrol::profiling::compile(&engine, &bytes);
        for _ in 0..count {
            patrol::profiling::instantiate_and_drop(&engine, &component);
        }
        return;
    }
    let request = fixtures::benchmark_request(&request);
    let evaluation = match args.next().as_deref() {
        None => None,
        Some("prepared") => Some(patrol::EvaluationThread::start()),
        Some(other) => panic!("the third argument is `prepared` or nothing, not `{other}`"),
    };
    for _ in 0..count {
        black_box(tenant.evaluate(black_box(&request)));
        if let Some(evaluation) = &evaluation {
            evaluation.tidy();
        }
    }
}
