//! Evaluates one request against the benchmark tenant in a loop, for profilers:
//!
//! ```sh
//! cargo build --release -p patrol-benches --example profile_decision
//! valgrind --tool=callgrind target/release/examples/profile_decision create 2000
//! valgrind --tool=callgrind target/release/examples/profile_decision instantiate 2000
//! perf record -e cpu-clock -g target/release/examples/profile_decision create 200000
//! ```

use std::hint::black_box;
use std::path::Path;

use patrol::{Engine, EngineConfig, Request, TenantConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let request = args.next().unwrap_or_else(|| "create".to_string());
    let count: usize = args.next().map_or(10_000, |n| n.parse().expect("a count"));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tenant");
    let config = TenantConfig::from_file(&dir.join("perf.toml")).expect("tenant");
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    let tenant = engine.load_tenant(&config).expect("load");
    if request == "instantiate" {
        // Only create and drop fresh instances of the custom policy.
        let bytes = std::fs::read(dir.join("../../target/policies/write_scopes_short_lived.wasm"))
            .expect("component");
        let component = patrol::profiling::compile(&engine, &bytes);
        for _ in 0..count {
            patrol::profiling::instantiate_and_drop(&engine, &component);
        }
        return;
    }
    let json = std::fs::read_to_string(dir.join(format!("{request}.json"))).expect("request");
    let request = Request::from_json(&json).expect("request");
    for _ in 0..count {
        black_box(tenant.evaluate(black_box(&request)));
    }
}
