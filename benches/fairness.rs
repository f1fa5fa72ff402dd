//! Fairness between tenants: a well-behaved tenant's decision latency alone, and while another
//! tenant's policy runs until its 5 ms deadline on every request, hammered by eight threads.
//! Reports p50 and p99 for each set-up, side by side in one run:
//!
//! - **alone**: the benchmark tenant (five seed policies and a custom one), nobody else;
//! - **attack, no cap**: every slot open to every tenant (`calls_per_tenant` = cores) and no
//!   quarantine: fair turns only;
//! - **attack, cap**: the default cap (all slots but one per tenant), no quarantine;
//! - **attack, defaults**: the cap and the quarantine, as `patrol serve` runs.
//!
//! Not a criterion benchmark: what matters is the tail under contention, measured over a fixed
//! number of sequential decisions. Run with `cargo bench -p patrol-benches --bench fairness`;
//! under `cargo test` it takes a few samples, to check that it works.

mod fixtures;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use patrol::{Engine, EngineConfig, Quarantine, TenantConfig};

const ATTACKERS: usize = 8;

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let samples = if full { 3000 } else { 50 };
    let cores = thread::available_parallelism().map_or(2, |n| n.get());
    let no_quarantine = Quarantine {
        after_failures: 0,
        ..Quarantine::default()
    };
    println!(
        "fairness: {cores} cores, {ATTACKERS} attacking threads, {samples} decisions of the \
         benchmark tenant per set-up"
    );
    println!(
        "{:<18} {:>10} {:>10} {:>14}",
        "set-up", "p50", "p99", "attack calls"
    );
    let setups = [
        ("alone", EngineConfig::default(), false),
        (
            "attack, no cap",
            EngineConfig {
                calls_per_tenant: cores,
                quarantine: no_quarantine,
                ..EngineConfig::default()
            },
            true,
        ),
        (
            "attack, cap",
            EngineConfig {
                quarantine: no_quarantine,
                ..EngineConfig::default()
            },
            true,
        ),
        ("attack, defaults", EngineConfig::default(), true),
    ];
    for (name, config, attack) in setups {
        let (p50, p99, attack_calls) = measure(config, attack, samples);
        println!(
            "{name:<18} {:>10} {:>10} {attack_calls:>14}",
            format!("{p50:.1?}"),
            format!("{p99:.1?}")
        );
    }
}

/// The well-behaved tenant's p50 and p99 over `samples` decisions, with or without the attack,
/// and how many attacking decisions ran meanwhile.
fn measure(config: EngineConfig, attack: bool, samples: usize) -> (Duration, Duration, usize) {
    let engine =
        Engine::new(config).unwrap_or_else(|error| panic!("{}", patrol::with_causes(&error)));
    let victim = fixtures::benchmark_tenant(&engine);
    let request = fixtures::benchmark_request("create");
    let attacker = looping_tenant(&engine);
    // Warm up: compile, fill the instance pool.
    for _ in 0..50 {
        victim.evaluate(&request);
    }
    let done = AtomicBool::new(false);
    let mut latencies = Vec::with_capacity(samples);
    let attack_calls = thread::scope(|scope| {
        let attackers: Vec<_> = (0..if attack { ATTACKERS } else { 0 })
            .map(|_| {
                scope.spawn(|| {
                    let mut calls = 0;
                    while !done.load(Ordering::Relaxed) {
                        std::hint::black_box(attacker.evaluate(&request));
                        calls += 1;
                    }
                    calls
                })
            })
            .collect();
        if attack {
            // Let the attack reach its stride.
            thread::sleep(Duration::from_millis(50));
        }
        for _ in 0..samples {
            let started = Instant::now();
            std::hint::black_box(victim.evaluate(&request));
            latencies.push(started.elapsed());
        }
        done.store(true, Ordering::Relaxed);
        attackers
            .into_iter()
            .map(|attacker| attacker.join().unwrap())
            .sum::<usize>()
    });
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    (percentile(50), percentile(99), attack_calls)
}

/// A tenant whose one policy loops until its 5 ms deadline on every request.
fn looping_tenant(engine: &Engine) -> patrol::Tenant {
    let toml = format!(
        "tenant = \"attacker\"\n[[custom_policies]]\nname = \"loop\"\ncomponent = {:?}\n\
         settings = {{ behaviour = \"endless-loop\" }}\n",
        fixtures::component_path("hostile").display().to_string()
    );
    let config = TenantConfig::from_toml(&toml, "attacker.toml", Path::new("."))
        .unwrap_or_else(|error| panic!("{error}"));
    fixtures::load(engine, &config)
}
