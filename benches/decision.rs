//! One full decision, end to end, with fresh instances: the benchmark tenant
//! (`benches/tenant/perf.toml`: five seed policies and one custom policy) for a `create` that
//! breaks five rules, a compliant `create`, and a `use`; and the example tenant of the README
//! (five seed policies, two custom ones).
//!
//! Run with `cargo bench -p patrol-benches --bench decision`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig, Request, TenantConfig};

fn example(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/contoso")
        .join(path)
}

fn request(name: &str) -> Request {
    let json = std::fs::read_to_string(example(&format!("requests/{name}.json"))).unwrap();
    Request::from_json(&json).unwrap()
}

fn decision(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tenant");
    let perf = engine
        .load_tenant(&TenantConfig::from_file(&dir.join("perf.toml")).unwrap())
        .unwrap();
    let mut group = c.benchmark_group("decision");
    for name in ["create", "create-compliant", "use"] {
        let json = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let request = Request::from_json(&json).unwrap();
        group.bench_function(format!("benchmark tenant, {name}"), |b| {
            b.iter(|| perf.evaluate(black_box(&request)))
        });
    }
    let config = TenantConfig::from_file(&example("tenant.toml")).unwrap();
    let tenant = engine.load_tenant(&config).unwrap();
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
