//! Evaluation threads (`patrol::EvaluationThread`): instances prepared ahead of requests are
//! still fresh, still limited, and bounded in number. Assertions are on outcomes, never on how
//! fast anything ran.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use patrol::{Engine, EngineConfig, ErrorClass, EvaluationThread, Request, Tenant, TenantConfig};

fn hostile() -> PathBuf {
    Path::new(patrol_test_support::COMPONENT_DIR).join("hostile.wasm")
}

/// A tenant with one seed policy (judged by the seed bundle) and the hostile component.
fn tenant(engine: &Engine, name: &str, settings: &str, limits: &str) -> Tenant {
    let toml = format!(
        "tenant = \"{name}\"\n\
         [policies.restrict_full_scoped_pat_creation]\nenabled = true\n\
         [[custom_policies]]\nname = \"shared\"\ncomponent = {:?}\nsettings = {settings}\n{limits}\n",
        hostile().display().to_string()
    );
    let config = TenantConfig::from_toml(&toml, &format!("{name}.toml"), Path::new(".")).unwrap();
    Tenant::load(engine, &config).unwrap()
}

fn request(user: &str) -> Request {
    Request::from_json(&format!(
        r#"{{ "operation": "create", "now": "2026-11-28T12:00:00Z", "org": "fabrikam",
              "user": {{ "id": "{user}" }},
              "token": {{ "scopes": ["vso.code"], "orgs": ["fabrikam"],
                          "valid_to": "2026-12-01T00:00:00Z" }} }}"#
    ))
    .unwrap()
}

/// The one violation the `hostile` policy reported: its message.
fn reported(tenant: &Tenant, request: &Request) -> String {
    let decision = tenant.evaluate(request);
    let [violation] = decision.violations.as_slice() else {
        panic!("{:?}", decision.violations);
    };
    assert_eq!(&*violation.policy, "shared");
    violation.message.clone()
}

#[test]
fn a_prepared_instance_serves_one_call_and_is_never_reused() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let counting = tenant(&engine, "counting", "{ behaviour = \"count-calls\" }", "");
    let evaluation = EvaluationThread::start();
    assert_eq!(evaluation.prepared(), 0);
    for round in 0..100 {
        // The policy counts its calls in a global: in a fresh instance the count is always 1.
        assert_eq!(reported(&counting, &request("bob@contoso.com")), "1");
        evaluation.tidy();
        assert_eq!(
            evaluation.prepared(),
            2,
            "round {round}: the seed bundle and the custom component are ready"
        );
    }
    // Without a tidy between them, the second request finds nothing prepared and makes its own.
    assert_eq!(reported(&counting, &request("bob@contoso.com")), "1");
    assert_eq!(reported(&counting, &request("bob@contoso.com")), "1");
}

#[test]
fn tenants_sharing_a_prepared_component_never_see_each_others_settings() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let alpha = tenant(
        &engine,
        "alpha",
        "{ behaviour = \"echo-settings\", label = \"alpha\" }",
        "",
    );
    let beta = tenant(
        &engine,
        "beta",
        "{ behaviour = \"echo-settings\", label = \"beta\" }",
        "",
    );
    thread::scope(|scope| {
        for worker in 0..3 {
            let (alpha, beta) = (&alpha, &beta);
            scope.spawn(move || {
                let evaluation = EvaluationThread::start();
                for i in 0..60 {
                    let user = format!("user-{worker}-{i}@contoso.com");
                    let (tenant, label) = if (worker + i) % 2 == 0 {
                        (alpha, "alpha")
                    } else {
                        (beta, "beta")
                    };
                    assert_eq!(
                        reported(tenant, &request(&user)),
                        format!("label={label} user={user}")
                    );
                    evaluation.tidy();
                }
            });
        }
    });
}

#[test]
fn a_prepared_instance_gets_its_whole_deadline_however_long_it_waited() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let quick = tenant(
        &engine,
        "quick",
        "{ behaviour = \"allow\" }",
        "limits = { deadline_ms = 5 }",
    );
    let looping = tenant(
        &engine,
        "looping",
        "{ behaviour = \"endless-loop\" }",
        "limits = { deadline_ms = 5 }",
    );
    let evaluation = EvaluationThread::start();
    for _ in 0..3 {
        assert!(quick.evaluate(&request("bob@contoso.com")).allowed);
        evaluation.tidy();
        // Far longer than the deadline: the clock must start when the call does.
        thread::sleep(Duration::from_millis(30));
        let decision = quick.evaluate(&request("bob@contoso.com"));
        assert!(decision.allowed, "{:?}", decision.violations);
        evaluation.tidy();
    }
    // And a prepared instance is still stopped at its deadline.
    looping.evaluate(&request("mallory@contoso.com"));
    evaluation.tidy();
    assert!(evaluation.prepared() > 0);
    let decision = looping.evaluate(&request("mallory@contoso.com"));
    let [violation] = decision.violations.as_slice() else {
        panic!("{:?}", decision.violations);
    };
    assert_eq!(violation.error, Some(ErrorClass::Timeout), "{violation:?}");
}

/// More evaluation threads, each using more components, than the engine lets hold instances:
/// the ones without a ticket make and drop instances inline, and no decision fails for want of
/// a pool slot.
#[test]
fn many_evaluation_threads_never_exhaust_the_instance_pool() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    // The same component with different limits is prepared apart: four per thread, and the
    // seed bundle.
    let tenants: Vec<Tenant> = (0..4)
        .map(|i| {
            tenant(
                &engine,
                &format!("t{i}"),
                "{ behaviour = \"count-calls\" }",
                &format!("limits = {{ deadline_ms = {} }}", 40 + i),
            )
        })
        .collect();
    let cores = thread::available_parallelism().map_or(2, |n| n.get());
    thread::scope(|scope| {
        for _ in 0..cores * 6 {
            scope.spawn(|| {
                let evaluation = EvaluationThread::start();
                for round in 0..20 {
                    for tenant in &tenants {
                        let decision = tenant.evaluate(&request("bob@contoso.com"));
                        let [violation] = decision.violations.as_slice() else {
                            panic!("round {round}: {:?}", decision.violations);
                        };
                        assert_eq!(violation.message, "1", "{violation:?}");
                    }
                    evaluation.tidy();
                }
            });
        }
    });
}
