//! Throughput: decisions for the benchmark tenant from one thread and from two threads at
//! once, reported as time per decision (so two threads should halve it on two cores).
//!
//! Run with `cargo bench -p patrol-benches --bench throughput`.

mod fixtures;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig};

fn throughput(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let tenant = fixtures::benchmark_tenant(&engine);
    let request = fixtures::benchmark_request("create");
    let mut group = c.benchmark_group("throughput");
    for threads in [1u64, 2] {
        group.bench_function(format!("{threads} thread(s), time per decision"), |b| {
            b.iter_custom(|decisions| {
                let started = Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(|| {
                            for _ in 0..decisions.div_ceil(threads) {
                                black_box(tenant.evaluate(black_box(&request)));
                            }
                        });
                    }
                });
                let elapsed: Duration = started.elapsed();
                elapsed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
