//! What instance allocation costs a decision: the benchmark tenant (five seed policies and one
//! custom policy) judging a `create`, with each allocation strategy, in one run.
//!
//! Run with `cargo bench -p patrol-benches --bench allocation`.

mod fixtures;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Allocation, Engine, EngineConfig};

fn allocation(c: &mut Criterion) {
    let config = fixtures::benchmark_config();
    let request = fixtures::benchmark_request("create");
    let pooling = |keep_resident, pagemap_scan| Allocation::Pooling {
        keep_resident,
        pagemap_scan,
    };
    let mut group = c.benchmark_group("allocation");
    for (name, allocation) in [
        ("on-demand", Allocation::OnDemand),
        ("pooling, nothing kept resident", pooling(0, false)),
        ("pooling, 64 KiB kept resident", pooling(64 << 10, false)),
        ("pooling, 1 MiB kept resident", pooling(1 << 20, false)),
        (
            "pooling, 64 KiB kept resident, pagemap",
            pooling(64 << 10, true),
        ),
        (
            "pooling, 1 MiB kept resident, pagemap",
            pooling(1 << 20, true),
        ),
    ] {
        let engine = Engine::new(EngineConfig {
            allocation,
            ..EngineConfig::default()
        })
        .unwrap();
        let tenant = fixtures::load(&engine, &config);
        group.bench_function(name, |b| b.iter(|| tenant.evaluate(black_box(&request))));
    }
    group.finish();
}

criterion_group!(benches, allocation);
criterion_main!(benches);
