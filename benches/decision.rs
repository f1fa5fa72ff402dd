//! One full decision, end to end: the example tenant (five seed policies and two custom ones),
//! a fresh instance per applicable policy, for a `create` and a `use`.
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
    let config = TenantConfig::from_file(&example("tenant.toml")).unwrap();
    let tenant = engine.load_tenant(&config).unwrap();
    let mut group = c.benchmark_group("decision");
    for name in [
        "create-too-long",
        "create-allowed",
        "use-global-in-fabrikam",
    ] {
        let request = request(name);
        group.bench_function(name, |b| b.iter(|| tenant.evaluate(black_box(&request))));
    }
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
