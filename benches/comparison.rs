//! patrol against the same six rules as plain Rust (the floor), Cedar and Rego (regorus, RVM),
//! on the same requests, in one run. Before timing anything, every engine is checked to report
//! the same violations for every request.
//!
//! patrol evaluates the benchmark tenant (`benches/tenant/perf.toml`) with a fresh instance per
//! component per request: one for the five seed policies, one for the custom policy. None of
//! the other engines isolates anything.
//!
//! Run with `cargo bench -p patrol-benches --bench comparison`.

mod fixtures;

#[path = "engines/mod.rs"]
mod engines;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use engines::{Judge, sorted};
use patrol::{Engine, EngineConfig, Request, Tenant};

/// The requests every engine judges.
const REQUESTS: [&str; 3] = ["create", "create-compliant", "use"];

struct Patrol {
    tenant: Tenant,
}

impl Judge for Patrol {
    fn name(&self) -> &'static str {
        "patrol"
    }

    fn judge(&mut self, request: &Request) -> Vec<String> {
        let decision = self.tenant.evaluate(request);
        decision.violations.into_iter().map(|v| v.code).collect()
    }
}

fn comparison(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let mut judges: Vec<Box<dyn Judge>> = vec![
        Box::new(Patrol {
            tenant: fixtures::benchmark_tenant(&engine),
        }),
        Box::new(engines::floor::Floor::new()),
        Box::new(engines::cedar::Cedar::new()),
        Box::new(engines::rego::Rego::new()),
    ];
    let requests: Vec<(&str, Request)> = REQUESTS
        .iter()
        .map(|name| (*name, fixtures::benchmark_request(name)))
        .collect();
    for (name, request) in &requests {
        let expected = sorted(judges[0].judge(request));
        for judge in judges.iter_mut().skip(1) {
            let codes = sorted(judge.judge(request));
            assert_eq!(
                codes,
                expected,
                "{} disagrees with patrol on `{name}`",
                judge.name()
            );
        }
    }
    for (name, request) in &requests {
        let mut group = c.benchmark_group(format!("comparison/{name}"));
        for judge in judges.iter_mut() {
            let label = judge.name();
            group.bench_function(label, |b| b.iter(|| judge.judge(black_box(request))));
        }
        group.finish();
    }
}

criterion_group!(benches, comparison);
criterion_main!(benches);
