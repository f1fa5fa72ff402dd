//! patrol against the same six rules as plain Rust (the floor), Cedar and Rego (regorus, RVM),
//! on the same requests, in one run. Before timing anything, every engine is checked to report
//! the same violations for every request.
//!
//! patrol evaluates the benchmark tenant (`benches/tenant/perf.toml`) with a fresh instance per
//! component per request: one for the five seed policies, one for the custom policy. None of
//! the other engines isolates anything. patrol is measured three ways:
//!
//! - **request path**: on an [`EvaluationThread`], with the instances prepared beforehand and
//!   the used ones dropped afterwards, both outside the timing: what a gateway waits for. It
//!   leaves out the work of preparing and dropping, which the next two count.
//! - **decision + tidy**: the same, with the tidy (drop, prepare) timed too: all the CPU one
//!   decision costs on one thread.
//! - **cold**: an ordinary thread, nothing prepared, instances made and dropped while timed.
//!
//! The `saturated/...` groups run every engine on every core at once and report the time per
//! decision (so CPU per decision, divided by the cores): patrol's tidy counts there.
//!
//! Run with `cargo bench -p patrol-benches --bench comparison`.

mod fixtures;

#[path = "engines/mod.rs"]
mod engines;

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use engines::{Judge, sorted};
use patrol::{Engine, EngineConfig, EvaluationThread, Request, Tenant};

/// The requests every engine judges.
const REQUESTS: [&str; 3] = ["create", "create-compliant", "use"];

struct Patrol<'a> {
    tenant: &'a Tenant,
}

impl Judge for Patrol<'_> {
    fn judge(&mut self, request: &Request) -> Vec<String> {
        let decision = self.tenant.evaluate(request);
        decision.violations.into_iter().map(|v| v.code).collect()
    }
}

/// Makes an engine, afresh for each thread that runs one.
type MakeJudge = fn() -> Box<dyn Judge>;

/// The engines patrol is compared with.
const PEERS: [(&str, MakeJudge); 3] = [
    ("plain Rust (floor)", || {
        Box::new(engines::floor::Floor::new())
    }),
    ("Cedar", || Box::new(engines::cedar::Cedar::new())),
    ("Rego, regorus RVM", || Box::new(engines::rego::Rego::new())),
];

fn comparison(c: &mut Criterion) {
    let cores = thread::available_parallelism().map_or(2, |n| n.get());
    // One tenant may use every core here: the default keeps one core from any one tenant
    // (fair admission), which would leave the saturated runs measuring the cap, not the CPU.
    let engine = Engine::new(EngineConfig {
        calls_per_tenant: cores,
        ..EngineConfig::default()
    })
    .unwrap();
    let tenant = fixtures::benchmark_tenant(&engine);
    let requests: Vec<(&str, Request)> = REQUESTS
        .iter()
        .map(|name| (*name, fixtures::benchmark_request(name)))
        .collect();
    agree(&tenant, &requests);
    for (name, request) in &requests {
        let mut group = c.benchmark_group(format!("comparison/{name}"));
        patrol_one_thread(&mut group, &tenant, request);
        for (label, make) in PEERS {
            let mut judge = make();
            group.bench_function(label, |b| b.iter(|| judge.judge(black_box(request))));
        }
        group.finish();
        let mut group = c.benchmark_group(format!("saturated/{name}"));
        let tenant = &tenant;
        group.bench_function(
            format!("patrol, decision + tidy, {cores} threads, time per decision"),
            |b| {
                b.iter_custom(|decisions| {
                    on_every_core(cores, decisions, || {
                        let evaluation = EvaluationThread::start();
                        move || {
                            black_box(tenant.evaluate(black_box(request)));
                            evaluation.tidy();
                        }
                    })
                })
            },
        );
        group.bench_function(
            format!("patrol, cold, {cores} threads, time per decision"),
            |b| {
                b.iter_custom(|decisions| {
                    on_every_core(cores, decisions, || {
                        move || {
                            black_box(tenant.evaluate(black_box(request)));
                        }
                    })
                })
            },
        );
        for (label, make) in PEERS {
            group.bench_function(
                format!("{label}, {cores} threads, time per decision"),
                |b| {
                    b.iter_custom(|decisions| {
                        on_every_core(cores, decisions, || {
                            let mut judge = make();
                            move || {
                                black_box(judge.judge(black_box(request)));
                            }
                        })
                    })
                },
            );
        }
        group.finish();
    }
}

/// patrol on one thread: request path, decision + tidy, and cold.
fn patrol_one_thread(group: &mut BenchmarkGroup<'_, WallTime>, tenant: &Tenant, request: &Request) {
    {
        let evaluation = EvaluationThread::start();
        group.bench_function(
            "patrol, request path (prepared; preparing and dropping not timed)",
            |b| {
                b.iter_custom(|decisions| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..decisions {
                        let started = Instant::now();
                        black_box(tenant.evaluate(black_box(request)));
                        timed += started.elapsed();
                        evaluation.tidy();
                    }
                    timed
                })
            },
        );
        group.bench_function("patrol, decision + tidy (all its CPU, one thread)", |b| {
            b.iter(|| {
                black_box(tenant.evaluate(black_box(request)));
                evaluation.tidy();
            })
        });
    }
    group.bench_function("patrol, cold (nothing prepared)", |b| {
        b.iter(|| black_box(tenant.evaluate(black_box(request))))
    });
}

/// Runs `decisions` decisions spread over `threads` threads, each making its own decider, and
/// returns the wall-clock time they took: the time per decision with every core busy.
fn on_every_core<F: FnMut()>(
    threads: usize,
    decisions: u64,
    decider: impl Fn() -> F + Sync,
) -> Duration {
    let per_thread = decisions.div_ceil(threads as u64);
    let ready = std::sync::Barrier::new(threads + 1);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut decide = decider();
                ready.wait();
                for _ in 0..per_thread {
                    decide();
                }
                ready.wait();
            });
        }
        ready.wait();
        let started = Instant::now();
        ready.wait();
        started.elapsed()
    })
}

/// Every engine reports the same violations as patrol for every request.
fn agree(tenant: &Tenant, requests: &[(&str, Request)]) {
    let mut patrol = Patrol { tenant };
    let evaluation = EvaluationThread::start();
    for (name, request) in requests {
        let expected = sorted(patrol.judge(request));
        evaluation.tidy();
        assert_eq!(
            sorted(patrol.judge(request)),
            expected,
            "patrol disagrees with itself on `{name}` once instances are prepared"
        );
        for (label, make) in PEERS {
            let codes = sorted(make().judge(request));
            assert_eq!(codes, expected, "{label} disagrees with patrol on `{name}`");
        }
    }
}

criterion_group!(benches, comparison);
criterion_main!(benches);
