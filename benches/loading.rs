//! Loading: compiling a component, loading it from a precompiled artifact on disk instead, and
//! loading a whole tenant (configuration file, components, every policy's settings checked)
//! when its components are precompiled on disk and when they are already in memory.
//!
//! Run with `cargo bench -p patrol-benches --bench loading`.

mod fixtures;

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig, TenantConfig};

fn engine(cache: Option<&Path>) -> Engine {
    Engine::new(EngineConfig {
        cache_dir: cache.map(Path::to_path_buf),
        ..EngineConfig::default()
    })
    .unwrap()
}

fn loading(c: &mut Criterion) {
    let bytes = fixtures::component("write_scopes_short_lived");
    let tenant_file = fixtures::root().join("benches/tenant/perf.toml");
    let cache = tempfile::tempdir().unwrap();
    // Fill the cache: the bundle, the custom policy.
    let warm = engine(Some(cache.path()));
    fixtures::load(&warm, &fixtures::benchmark_config());

    let mut group = c.benchmark_group("loading");
    group.sample_size(20);
    group.bench_function("compile a component", |b| {
        b.iter_batched(
            || engine(None),
            |engine| black_box(engine.compile(&bytes).unwrap()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("load a component from its precompiled artifact", |b| {
        b.iter_batched(
            || engine(Some(cache.path())),
            |engine| black_box(engine.compile(&bytes).unwrap()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("load a tenant, components precompiled on disk", |b| {
        b.iter_batched(
            || engine(Some(cache.path())),
            |engine| {
                let config = TenantConfig::from_file(&tenant_file).unwrap();
                black_box(patrol::Tenant::load(&engine, &config).unwrap())
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("load a tenant, components in memory", |b| {
        b.iter(|| {
            let config = TenantConfig::from_file(&tenant_file).unwrap();
            black_box(patrol::Tenant::load(&warm, &config).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, loading);
criterion_main!(benches);
