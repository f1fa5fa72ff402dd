//! Epoch deadlines against fuel budgets, on the benchmark tenant's real policies: what each way
//! of stopping a runaway policy costs a decision that does not run away. Both engines are
//! measured in the same run, so their ratio holds on a noisy machine.
//!
//! Also reports how fast an endless loop burns fuel, which is how `Interruption::Fuel`'s
//! `units_per_ms` is calibrated.
//!
//! Run with `cargo bench -p patrol-benches --bench interruption`.

mod fixtures;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig, Interruption, Limits, Quarantine, TenantConfig};

fn interruption(c: &mut Criterion) {
    let config = fixtures::benchmark_config();
    let request = fixtures::benchmark_request("create");
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
        // The loop is measured, not set aside: no quarantine.
        let engine = Engine::new(EngineConfig {
            interruption,
            quarantine: Quarantine {
                after_failures: 0,
                ..Quarantine::default()
            },
            ..EngineConfig::default()
        })
        .unwrap();
        let tenant = fixtures::load(&engine, &config);
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
        quarantine: Quarantine {
            after_failures: 0,
            ..Quarantine::default()
        },
        ceilings: Limits {
            deadline: Duration::from_millis(100),
            ..Limits::default_ceilings()
        },
        ..EngineConfig::default()
    })
    .unwrap();
    let component = fixtures::component_path("hostile");
    let toml = format!(
        "tenant = \"loop\"\n[[custom_policies]]\nname = \"loop\"\ncomponent = {:?}\n\
         settings = {{ behaviour = \"endless-loop\" }}\nlimits = {{ deadline_ms = 100 }}\n",
        component.display().to_string()
    );
    let config = TenantConfig::from_toml(&toml, "loop.toml", Path::new(".")).unwrap();
    let tenant = fixtures::load(&engine, &config);
    let request =
        fixtures::request(&fixtures::root().join("examples/contoso/requests/create-allowed.json"));
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
