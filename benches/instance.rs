//! One policy taken apart: creating and dropping a fresh instance (and creating one alone, its
//! drop left outside the measurement), a call on a warm instance, and both together as patrol
//! runs them (a tenant with only that policy). The policy is the custom
//! `write_scopes_short_lived` component.
//!
//! Run with `cargo bench -p patrol-benches --bench instance`.

mod fixtures;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use patrol::profiling::{WarmInstance, compile, instantiate, instantiate_and_drop};
use patrol::{Engine, EngineConfig, TenantConfig};

fn instance(c: &mut Criterion) {
    let component = fixtures::component_path("write_scopes_short_lived");
    let bytes = fixtures::component("write_scopes_short_lived");
    let request = fixtures::benchmark_request("create");
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let compiled = compile(&engine, &bytes);
    let toml = format!(
        "tenant = \"one\"\n[policies.revoke_leaked_pats]\nenabled = false\n\
         [[custom_policies]]\nname = \"w\"\ncomponent = {:?}\nsettings = {{ max_days = 30 }}\n",
        component.display().to_string()
    );
    let config = TenantConfig::from_toml(&toml, "one.toml", Path::new(".")).unwrap();
    let tenant = fixtures::load(&engine, &config);

    let mut group = c.benchmark_group("instance");
    group.bench_function("instantiate and drop", |b| {
        b.iter(|| instantiate_and_drop(&engine, &compiled))
    });
    // What the request path would keep if the drop happened elsewhere: one instance at a time
    // (the pool has a few slots per core), dropped outside the timing.
    group.bench_function("instantiate, drop not timed", |b| {
        b.iter_batched(
            || (),
            |()| instantiate(&engine, &compiled),
            BatchSize::PerIteration,
        )
    });
    // The guest's allocator never frees (its instances live for one call), so a warm
    // instance is replaced every thousand calls, outside the measurement.
    group.bench_function("call on a warm instance", |b| {
        b.iter_custom(|iterations| {
            let mut measured = Duration::ZERO;
            let mut left = iterations;
            while left > 0 {
                let calls = left.min(1000);
                let mut warm = WarmInstance::new(&engine, &compiled, r#"{"max_days":30}"#);
                let started = Instant::now();
                for _ in 0..calls {
                    black_box(warm.evaluate(black_box(&request)));
                }
                measured += started.elapsed();
                left -= calls;
            }
            measured
        })
    });
    group.bench_function("fresh instance and call", |b| {
        b.iter(|| tenant.evaluate(black_box(&request)))
    });
    group.finish();
}

criterion_group!(benches, instance);
criterion_main!(benches);
