//! A tenant rule in JavaScript next to tenant rules in Rust: the cost of one decision, side by
//! side in one run, each rule alone in its tenant and judging the same request.
//!
//! - `rust write_scopes_short_lived`, `rust group_scope_restriction`: the Rust example rules;
//! - `javascript least_privilege_js`: `examples/least-privilege-js`, built by componentize-js
//!   (SpiderMonkey compiled to WebAssembly, with the script pre-initialised into the snapshot).
//!
//! The JavaScript component is built by npm, not by cargo: run `npm ci && npm run build` in
//! `examples/least-privilege-js` first, or this benchmark measures the Rust rules only and says
//! so. Run with `cargo bench -p patrol-benches --bench languages`.

mod fixtures;

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig, Request, Tenant, TenantConfig};

/// A tenant with one custom rule.
fn tenant(engine: &Engine, name: &str, component: &Path, settings: &str) -> Tenant {
    let toml = format!(
        "tenant = \"bench\"\n[[custom_policies]]\nname = \"{name}\"\ncomponent = {:?}\nsettings = {settings}\n",
        component.display().to_string()
    );
    let config = TenantConfig::from_toml(&toml, "languages bench", &fixtures::root()).unwrap();
    fixtures::load(engine, &config)
}

fn languages(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let request = Request::from_json(
        r#"{ "operation": "create", "now": "2026-11-28T12:00:00Z", "org": "fabrikam",
             "user": { "id": "bob@contoso.com", "groups": ["contractors"] },
             "token": { "scopes": ["vso.code_write", "vso.work", "vso.build_execute"],
                        "all_orgs": true, "orgs": [], "valid_to": "2027-03-01T00:00:00Z" } }"#,
    )
    .unwrap();
    let mut rules = vec![
        (
            "rust write_scopes_short_lived",
            tenant(
                &engine,
                "write-scopes",
                &fixtures::component_path("write_scopes_short_lived"),
                "{ max_days = 7 }",
            ),
        ),
        (
            "rust group_scope_restriction",
            tenant(
                &engine,
                "contractors",
                &fixtures::component_path("group_scope_restriction"),
                "{ groups = [\"contractors\"], scopes = [\"vso.code_write\"] }",
            ),
        ),
    ];
    let javascript =
        fixtures::root().join("examples/least-privilege-js/build/least_privilege_js.wasm");
    if javascript.is_file() {
        rules.push((
            "javascript least_privilege_js",
            tenant(
                &engine,
                "least-privilege",
                &javascript,
                "{ max_scopes = 2 }",
            ),
        ));
    } else {
        eprintln!(
            "languages: {} is not built, so only the Rust rules are measured; run \
             `npm ci && npm run build` in examples/least-privilege-js",
            javascript.display()
        );
    }

    let mut group = c.benchmark_group("languages");
    for (name, tenant) in &rules {
        let decision = tenant.evaluate(&request);
        assert!(
            !decision.allowed && decision.violations.iter().all(|v| v.error.is_none()),
            "{name} refuses the request by its rule, not by failing: {decision:?}"
        );
        group.bench_function(*name, |b| b.iter(|| tenant.evaluate(black_box(&request))));
    }
    group.finish();
}

criterion_group!(benches, languages);
criterion_main!(benches);
