//! One rule written three ways, side by side in one run, and what CEL rules add to a decision.
//!
//! `languages`: the rule of `examples/least-privilege-js` (few scopes; global tokens may only
//! read) as a Rust component (`policies/least-privilege`), as a JavaScript component
//! (componentize-js: SpiderMonkey compiled to WebAssembly, the script pre-initialised into the
//! snapshot) and as two CEL rules; and `group_scope_restriction` in Rust next to the same rule
//! in CEL. Each is alone in its tenant and judges the same request, which it refuses. Before
//! measuring, the benchmark prints each component's size and the time to load its tenant on a
//! fresh engine (compiling the component) and on a warm one (settings only).
//!
//! `rules`: the seed policies of `benches/tenant/ten-rules.toml` alone, then with its ten CEL
//! rules (judged together in the rules bundle), then with every policy and rule in an instance
//! of its own (`bundle_seed_policies = false`), on `benches/tenant/create.json`.
//!
//! The JavaScript component is built by npm, not by cargo: run `npm ci && npm run build` in
//! `examples/least-privilege-js` first, or this benchmark leaves it out and says so. Run with
//! `cargo bench -p patrol-benches --bench languages`.

mod fixtures;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig, Request, TenantConfig};

/// One way of writing a rule: the tenant configuration that holds it, and the component file
/// it runs in (for its size).
struct Written {
    name: &'static str,
    config: String,
    component: PathBuf,
}

fn custom(name: &'static str, component: PathBuf, settings: &str) -> Written {
    Written {
        name,
        config: format!(
            "tenant = \"bench\"\n[[custom_policies]]\nname = \"rule\"\ncomponent = {:?}\nsettings = {settings}\n",
            component.display().to_string()
        ),
        component,
    }
}

fn cel(name: &'static str, rules: &str) -> Written {
    Written {
        name,
        config: format!("tenant = \"bench\"\n{rules}"),
        component: fixtures::component_path("cel_rules"),
    }
}

const CEL_LEAST_PRIVILEGE: &str = r#"
[[rules]]
name = "too-many-scopes"
expression = 'token.scopes.size() <= params.max_scopes'
params = { max_scopes = 2 }
code = "tooManyScopes"
message_expression = '"the token asks for " + string(token.scopes.size()) + " scopes; at most " + string(params.max_scopes) + " are allowed, so ask only for what the task needs"'

[[rules]]
name = "global-token-can-write"
expression = '!token.all_orgs || token.scopes.all(s, s != "app_token" && !s.endsWith("_execute") && !s.endsWith("_write") && !s.endsWith("_manage") && !s.endsWith("_full"))'
code = "globalTokenCanWrite"
message = "a global token may only read; name the organizations the token is for"
"#;

const CEL_GROUP_SCOPE: &str = r#"
[[rules]]
name = "contractors"
expression = '!(user.groups.exists(g, g in params.groups) && token.scopes.exists(s, s in params.scopes))'
params = { groups = ["contractors"], scopes = ["vso.code_write"] }
code = "groupScopeRestriction"
"#;

fn config(written: &Written) -> TenantConfig {
    TenantConfig::from_toml(&written.config, written.name, &fixtures::root())
        .unwrap_or_else(|error| panic!("{}: {error}", written.name))
}

fn languages(c: &mut Criterion) {
    let request = Request::from_json(
        r#"{ "operation": "create", "now": "2026-11-28T12:00:00Z", "org": "fabrikam",
             "user": { "id": "bob@contoso.com", "groups": ["contractors"] },
             "token": { "scopes": ["vso.code_write", "vso.work", "vso.build_execute"],
                        "all_orgs": true, "orgs": [], "valid_to": "2027-03-01T00:00:00Z" } }"#,
    )
    .unwrap();
    let mut rules = vec![custom(
        "least privilege: rust",
        fixtures::component_path("least_privilege"),
        "{ max_scopes = 2 }",
    )];
    let javascript =
        fixtures::root().join("examples/least-privilege-js/build/least_privilege_js.wasm");
    if javascript.is_file() {
        rules.push(custom(
            "least privilege: javascript",
            javascript,
            "{ max_scopes = 2 }",
        ));
    } else {
        eprintln!(
            "languages: {} is not built, so the JavaScript rule is left out; run \
             `npm ci && npm run build` in examples/least-privilege-js",
            javascript.display()
        );
    }
    rules.push(cel("least privilege: cel", CEL_LEAST_PRIVILEGE));
    rules.push(custom(
        "group scope restriction: rust",
        fixtures::component_path("group_scope_restriction"),
        "{ groups = [\"contractors\"], scopes = [\"vso.code_write\"] }",
    ));
    rules.push(cel("group scope restriction: cel", CEL_GROUP_SCOPE));

    // Sizes and load times, once: loading compiles on a fresh engine; on a warm one it only
    // validates the settings (for CEL: parses and checks the expressions).
    eprintln!(
        "{:<32} {:>12} {:>12} {:>12}",
        "rule", "component", "cold load", "warm load"
    );
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let mut tenants = Vec::new();
    for written in &rules {
        let config = config(written);
        let cold_engine = Engine::new(EngineConfig::default()).unwrap();
        let started = Instant::now();
        fixtures::load(&cold_engine, &config);
        let cold = started.elapsed();
        let tenant = fixtures::load(&engine, &config);
        let started = Instant::now();
        fixtures::load(&engine, &config);
        let warm = started.elapsed();
        eprintln!(
            "{:<32} {:>9} KiB {:>9.0} ms {:>9.0} µs",
            written.name,
            size(&written.component) / 1024,
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e6
        );
        tenants.push((written.name, tenant, config));
    }

    // Loading is measured on an engine with a 50 ms deadline: a load that ran into the default
    // 5 ms one on this shared machine (it happened about once in 5,000 warm loads of a CEL rule,
    // which takes about 0.6 ms) would stop the benchmark rather than measure it.
    let loader = Engine::new(EngineConfig {
        limits: patrol::Limits {
            deadline: std::time::Duration::from_millis(50),
            ..patrol::Limits::default()
        },
        ..EngineConfig::default()
    })
    .unwrap();
    let mut group = c.benchmark_group("languages");
    for (name, tenant, _) in &tenants {
        let decision = tenant.evaluate(&request);
        assert!(
            !decision.allowed && decision.violations.iter().all(|v| v.error.is_none()),
            "{name} refuses the request by its rule, not by failing: {decision:?}"
        );
        group.bench_function(format!("decision/{name}"), |b| {
            b.iter(|| tenant.evaluate(black_box(&request)))
        });
    }
    // Held, so that the loads below find their components compiled.
    let warm: Vec<_> = tenants
        .iter()
        .map(|(_, _, config)| fixtures::load(&loader, config))
        .collect();
    for (name, _, config) in &tenants {
        group.bench_function(format!("load (warm)/{name}"), |b| {
            b.iter(|| patrol::Tenant::load(&loader, black_box(config)).unwrap())
        });
    }
    group.finish();
    drop(warm);
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The seed policies alone, with ten rules in the rules bundle, and with every policy and rule
/// in an instance of its own.
fn ten_rules(c: &mut Criterion) {
    let with_rules = fixtures::config(&fixtures::root().join("benches/tenant/ten-rules.toml"));
    let mut seeds_only = with_rules.clone();
    seeds_only
        .policies
        .retain(|policy| patrol::builtin_policy(&policy.name).is_some());
    assert_eq!(with_rules.policies.len(), seeds_only.policies.len() + 10);
    let request = fixtures::benchmark_request("create");
    let bundled = Engine::new(EngineConfig::default()).unwrap();
    let unbundled = Engine::new(EngineConfig {
        bundle_seed_policies: false,
        ..EngineConfig::default()
    })
    .unwrap();
    let cases = [
        ("seed policies", fixtures::load(&bundled, &seeds_only)),
        (
            "seed policies + 10 rules",
            fixtures::load(&bundled, &with_rules),
        ),
        (
            "seed policies + 10 rules, an instance each",
            fixtures::load(&unbundled, &with_rules),
        ),
    ];
    let expected = cases[0].1.evaluate(&request);
    let mut group = c.benchmark_group("rules");
    for (name, tenant) in &cases {
        let decision = tenant.evaluate(&request);
        assert!(
            decision.violations.iter().all(|v| v.error.is_none()),
            "{name}: no policy fails: {decision:?}"
        );
        assert_eq!(decision.allowed, expected.allowed, "{name}");
        group.bench_function(*name, |b| b.iter(|| tenant.evaluate(black_box(&request))));
    }
    group.finish();
}

criterion_group!(benches, languages, ten_rules);
criterion_main!(benches);
