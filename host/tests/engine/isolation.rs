//! Tenants cannot see each other, requests cannot see each other, and a tenant whose policy
//! never returns cannot take other tenants down with it. Assertions are on outcomes, never on
//! how fast anything ran.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use patrol::{Engine, EngineConfig, ErrorClass, Interruption, Request, Tenant, TenantConfig};

fn hostile() -> PathBuf {
    Path::new(patrol_test_support::COMPONENT_DIR).join("hostile.wasm")
}

fn tenant(engine: &Engine, name: &str, settings: &str, extra: &str) -> Tenant {
    let toml = format!(
        "tenant = \"{name}\"\n\
         [policies.restrict_full_scoped_pat_creation]\nenabled = true\n\
         [[custom_policies]]\nname = \"shared\"\ncomponent = {:?}\nsettings = {settings}\n{extra}\n",
        hostile().display().to_string()
    );
    let config = TenantConfig::from_toml(&toml, &format!("{name}.toml"), Path::new(".")).unwrap();
    patrol::Tenant::load(engine, &config).unwrap()
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

/// The one violation the `hostile` policy reported.
fn reported(tenant: &Tenant, request: &Request) -> String {
    let decision = tenant.evaluate(request);
    let [violation] = decision.violations.as_slice() else {
        panic!("{:?}", decision.violations);
    };
    assert_eq!(&*violation.policy, "shared");
    violation.message.clone()
}

#[test]
fn tenants_sharing_a_component_never_see_each_others_settings_or_requests() {
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
    let digest = |t: &Tenant| t.policies().find(|p| p.name == "shared").unwrap().digest;
    assert_eq!(
        digest(&alpha),
        digest(&beta),
        "one component, compiled once"
    );
    thread::scope(|scope| {
        for worker in 0..4 {
            let (alpha, beta) = (&alpha, &beta);
            scope.spawn(move || {
                for i in 0..50 {
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
                }
            });
        }
    });
}

#[test]
fn no_state_survives_from_one_request_to_the_next() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let counting = tenant(&engine, "counting", "{ behaviour = \"count-calls\" }", "");
    // The policy counts its calls in a global: in a fresh instance the count is always 1.
    for _ in 0..100 {
        assert_eq!(reported(&counting, &request("bob@contoso.com")), "1");
    }
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..100 {
                    assert_eq!(reported(&counting, &request("bob@contoso.com")), "1");
                }
            });
        }
    });
}

/// One tenant's policy loops on every request, on as many threads as the machine has cores,
/// while another tenant's requests run beside it: the other tenant's decisions all come back,
/// and right. Its deadline (the most the host allows) is far above what its policies need, so the test does not hinge on
/// how busy the machine is; what it shows is that the looping tenant neither blocks the other
/// tenant nor leaks into its decisions, and that every looping evaluation is stopped.
#[test]
fn an_endless_loop_in_one_tenant_does_not_starve_another() {
    let _machine = crate::machine::whole();
    for interruption in [
        Interruption::Epoch,
        Interruption::Fuel {
            units_per_ms: 10_000_000,
        },
    ] {
        let engine = Engine::new(EngineConfig {
            interruption,
            ..EngineConfig::default()
        })
        .unwrap();
        let looping = tenant(&engine, "looping", "{ behaviour = \"endless-loop\" }", "");
        let healthy = tenant(
            &engine,
            "healthy",
            "{ behaviour = \"allow\" }",
            "limits = { deadline_ms = 50 }",
        );
        let done = AtomicBool::new(false);
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        thread::scope(|scope| {
            let loopers: Vec<_> = (0..cores)
                .map(|_| {
                    scope.spawn(|| {
                        let mut stopped = 0;
                        while !done.load(Ordering::Relaxed) {
                            let decision = looping.evaluate(&request("mallory@contoso.com"));
                            let [violation] = decision.violations.as_slice() else {
                                panic!("{:?}", decision.violations);
                            };
                            // Stopped at its deadline, or, once it has failed often enough,
                            // quarantined without running.
                            assert!(
                                matches!(
                                    violation.error,
                                    Some(ErrorClass::Timeout | ErrorClass::Quarantined)
                                ),
                                "{violation:?}"
                            );
                            assert!(!decision.allowed);
                            stopped += 1;
                        }
                        stopped
                    })
                })
                .collect();
            let healthy_worker = scope.spawn(|| {
                for i in 0..200 {
                    let mut wants_full_access = request(&format!("user-{i}@contoso.com"));
                    let decision = healthy.evaluate(&wants_full_access);
                    assert!(
                        decision.allowed,
                        "{interruption:?}: {:?}",
                        decision.violations
                    );
                    wants_full_access.token.scopes = vec!["app_token".to_string()];
                    let decision = healthy.evaluate(&wants_full_access);
                    let codes: Vec<&str> = decision
                        .violations
                        .iter()
                        .map(|v| v.code.as_str())
                        .collect();
                    assert_eq!(
                        codes,
                        ["fullScopePatPolicyViolation"],
                        "{interruption:?}: {:?}",
                        decision.violations
                    );
                }
            });
            let healthy_result = healthy_worker.join();
            done.store(true, Ordering::Relaxed);
            let stopped: usize = loopers.into_iter().map(|l| l.join().unwrap()).sum();
            healthy_result.unwrap();
            assert!(stopped > 0, "{interruption:?}: the looping tenant ran");
        });
    }
}
