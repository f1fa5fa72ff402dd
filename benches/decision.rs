//! One full decision, end to end, with fresh instances: the benchmark tenant
//! (`benches/tenant/perf.toml`: five seed policies and one custom policy) for a `create` that
//! breaks five rules, a compliant `create`, and a `use`; and the example tenant of the README
//! (five seed policies, two custom ones).
//!
//! Run with `cargo bench -p patrol-benches --bench decision`.

mod fixtures;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig, Request};

fn example(path: &str) -> std::path::PathBuf {
    fixtures::root().join("examples/contoso").join(path)
}

fn request(name: &str) -> Request {
    fixtures::request(&example(&format!("requests/{name}.json")))
}

fn decision(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let perf = fixtures::benchmark_tenant(&engine);
    let mut group = c.benchmark_group("decision");
    for name in ["create", "create-compliant", "use"] {
        let request = fixtures::benchmark_request(name);
        group.bench_function(format!("benchmark tenant, {name}"), |b| {
            b.iter(|| perf.evaluate(black_box(&request)))
        });
    }
    let tenant = fixtures::load(&engine, &fixtures::config(&example("tenant.toml")));
    for name in [
        "create-too-long",
        "create-allowed",
        "use-global-in-fabrikam",
    ] {
        let request = request(name);
        group.bench_function(format!("example tenant, {name}"), |b| {
            b.iter(|| tenant.evaluate(black_box(&request)))
        });
    }
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
