//! Fuzz targets' bodies, shared by the cargo-fuzz targets in `fuzz/` and by the regression
//! test that replays every input they ever found (`host/tests/engine/fuzz_regressions.rs`). Each
//! takes arbitrary bytes, drives one edge of patrol, and panics only when an invariant breaks.
//! Not part of the API.

use std::path::Path;
use std::sync::OnceLock;

use crate::config::TenantConfig;
use crate::decision::{Decision, PATROL, POLICY_ERROR};
use crate::engine::{Engine, EngineConfig};
use crate::request::Request;
use crate::tenant::Tenant;

/// The `now` used when an input has none, so runs are reproducible.
const NOW: i64 = 1_795_867_200; // 2026-11-28T12:00:00Z

/// Request parsing: any bytes give a request or an error naming a field, never a panic.
pub fn request_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Request::from_json_at(text, NOW) {
        Ok(request) => {
            assert!(!request.token.scopes.is_empty());
            assert!(request.token.valid_to > request.token.valid_from);
            assert!(request.token.all_orgs || !request.token.orgs.is_empty());
        }
        Err(error) => assert!(!error.field.is_empty() && !error.problem.is_empty()),
    }
}

/// Configuration parsing, as TOML and as JSON: a configuration or an error, never a panic.
pub fn tenant_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [
        TenantConfig::from_toml(text, "fuzz.toml", Path::new("/nonexistent")),
        TenantConfig::from_json(text, "fuzz.json", Path::new("/nonexistent")),
    ] {
        match parsed {
            Ok(config) => {
                let mut names: Vec<(&str, Option<&str>)> = config
                    .policies
                    .iter()
                    .map(|p| (p.name.as_str(), p.org.as_deref()))
                    .collect();
                let count = names.len();
                names.sort_unstable();
                names.dedup();
                assert_eq!(names.len(), count, "a policy configured twice");
            }
            Err(error) => assert!(!error.problem.is_empty()),
        }
    }
}

/// The decision path: a request judged by a tenant with every seed policy on. Whatever the
/// request, the decision is consistent with itself.
pub fn decision(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = Request::from_json_at(text, NOW) else {
        return;
    };
    check_decision(&seed_tenant().evaluate(&request));
}

fn check_decision(decision: &Decision) {
    assert_eq!(
        decision.allowed,
        !decision.violations.iter().any(|v| v.enforced)
    );
    assert!(decision.allowed || decision.adjusted_valid_to.is_none());
    let mut actions = decision.actions.clone();
    actions.dedup();
    assert_eq!(actions, decision.actions, "actions repeat");
    for violation in &decision.violations {
        assert!(!violation.code.is_empty() && !violation.message.is_empty());
        // The seed policies are trusted code: none of them may fail on any request.
        assert!(
            violation.code != POLICY_ERROR,
            "a seed policy failed: {}",
            violation.message
        );
        assert!(&*violation.policy != PATROL || violation.code == "tokenExpired");
    }
}

/// A tenant with all five seed policies on, loaded once.
fn seed_tenant() -> &'static Tenant {
    static TENANT: OnceLock<Tenant> = OnceLock::new();
    TENANT.get_or_init(|| {
        let toml = r#"
            tenant = "fuzz"
            [policies.restrict_global_pat_creation]
            enabled = true
            allowlist = { users = ["alice@contoso.com"], groups = ["admins"] }
            [policies.restrict_full_scoped_pat_creation]
            enabled = true
            [policies.max_pat_lifespan]
            enabled = true
            max_days = 30
            clamp = true
            [policies.revoke_leaked_pats]
            enabled = true
            [orgs.fabrikam]
            entra_backed = true
            [orgs.fabrikam.policies.restrict_pat_creation]
            enabled = true
            allow_packaging_scope_only = true
        "#;
        let config = TenantConfig::from_toml(toml, "fuzz.toml", Path::new("."))
            .unwrap_or_else(|error| panic!("{error}"));
        let engine = Engine::new(EngineConfig::default())
            .unwrap_or_else(|error| panic!("{}", crate::with_causes(&error)));
        crate::Tenant::load(&engine, &config).unwrap_or_else(|error| panic!("{error}"))
    })
}
