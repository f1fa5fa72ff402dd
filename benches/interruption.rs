//! Epoch deadlines against fuel budgets, on the benchmark tenant's real policies: what each way
//! of stopping a runaway policy costs a decision that does not run away. Both engines are
//! measured in the same run, so their ratio holds on a noisy machine.
//!
//! Also reports how fast an endless loop burns fuel, which is how `Interruption::Fuel`'s
//! `units_per_ms` is calibrated.
//!
//! Run with `cargo bench -p patrol-benches --bench interruption`.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig, Interruption, Request, TenantConfig};

fn example(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/contoso")
        .join(path)
}

fn interruption(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tenant");
    let config = TenantConfig::from_file(&dir.join("perf.toml")).unwrap();
    let json = std::fs::read_to_string(dir.join("create.json")).unwrap();
    let request = Request::from_json(&json).unwrap();
    let mut group = c.benchmark_group("interruption");
    for (name, interruption) in [
        ("epoch", Interruption::Epoch),
        (
            "fuel",
            Interruption::Fuel {
                units_per_ms: 1_000_000,
            },
        ),
    ] {
        let engine = Engine::new(EngineConfig {
            interruption,
            ..EngineConfig::default()
        })
        .unwrap();
        let tenant = engine.load_tenant(&config).unwrap();
        group.bench_function(name, |b| b.iter(|| tenant.evaluate(black_box(&request))));
    }
    group.finish();
    report_fuel_rate();
}

/// Times an endless loop under a known fuel budget and prints fuel per millisecond.
fn report_fuel_rate() {
    let units_per_ms = 1_000_000;
    let engine = Engine::new(EngineConfig {
        interruption: Interruption::Fuel { units_per_ms },
        ..EngineConfig::default()
    })
    .unwrap();
    let component = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/policies/hostile.wasm");
    let toml = format!(
        "tenant = \"loop\"\n[[custom_policies]]\nname = \"loop\"\ncomponent = {:?}\n\
         settings = {{ behaviour = \"endless-loop\" }}\nlimits = {{ deadline_ms = 100 }}\n",
        component.display().to_string()
    );
    let config = TenantConfig::from_toml(&toml, "loop.toml", Path::new(".")).unwrap();
    let tenant = engine.load_tenant(&config).unwrap();
    let json = std::fs::read_to_string(example("requests/create-allowed.json")).unwrap();
    let request = Request::from_json(&json).unwrap();
    let runs = 20;
    let started = Instant::now();
    for _ in 0..runs {
        black_box(tenant.evaluate(&request));
    }
    let per_run = started.elapsed() / runs;
    let budget = 100 * units_per_ms;
    println!(
        "fuel: an endless loop burned {budget} units in {per_run:?}: {:.0} units per ms",
        budget as f64 / (per_run.as_secs_f64() * 1000.0)
    );
}

criterion_group!(benches, interruption);
criterion_main!(benches);
