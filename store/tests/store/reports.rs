//! The compliance reports and the dry run against a store of a few hundred generated tokens
//! (`inventory`), each expectation computed here from the generator's own description
//! of the tokens, not by patrol's report code. The same through the real binary (CLI,
//! `--apply`, HTML) is in the command's tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::inventory::{self, Inventory, PROGRAM_AGENTS, SERVICE_OWNERS, Spec, TENANT};
use patrol::{TenantConfig, timestamp};
use patrol_store::reports::Report;
use patrol_store::reports::query::{ReportKind, ReportQuery};
use patrol_store::reports::whatif::whatif;
use patrol_store::tokens::{AuditEvent, AuditQuery, LifecycleError, NewToken};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

fn run(inv: &Inventory, kind: ReportKind, query: ReportQuery, log: Option<&Path>) -> Value {
    let report = query
        .run(kind, &inv.tokens, TENANT, Some(&inv.tenant), log, inv.t0)
        .unwrap();
    serde_json::to_value(&report).unwrap()
}

/// Loads a configuration for the inventory's tenant.
fn load(inv: &Inventory, toml: &str) -> patrol::Tenant {
    let config = TenantConfig::from_toml(toml, "test configuration", Path::new(".")).unwrap();
    patrol::Tenant::load(&inv.engine, &config).unwrap()
}

fn active(inv: &Inventory) -> impl Iterator<Item = &Spec> {
    inv.specs.iter().filter(|s| s.active(inv.t0))
}

/// Scope strength, written independently of patrol's: full access, then the level suffix.
fn rank(scope: &str) -> u8 {
    if scope == "app_token" {
        return 5;
    }
    for (suffix, rank) in [("_full", 4), ("_manage", 3), ("_write", 2), ("_execute", 1)] {
        if scope.ends_with(suffix) {
            return rank;
        }
    }
    0
}

#[test]
fn the_inventory_reports_match_independent_counts() {
    let inv = inventory::generate();
    let specs = &inv.specs;
    let t0 = inv.t0;
    assert_eq!(specs.len(), inventory::TOKENS);
    let active_count = active(&inv).count();
    assert!(
        (100..inventory::TOKENS).contains(&active_count),
        "a mix of active and inactive tokens: {active_count}"
    );

    // Noncompliant: lifetime over 90 days, or full scope, among active tokens, by owner.
    let report = run(
        &inv,
        ReportKind::Noncompliant,
        ReportQuery {
            max_days: Some(90),
            ..ReportQuery::default()
        },
        None,
    );
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for spec in active(&inv).filter(|s| s.lifetime() > 90 * DAY || s.has_full_scope()) {
        expected
            .entry(spec.owner.clone())
            .or_default()
            .insert(spec.id.clone());
    }
    let mut actual: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for owner in report["owners"].as_array().unwrap() {
        let ids = owner["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string());
        actual
            .entry(owner["owner"].as_str().unwrap().to_string())
            .or_default()
            .extend(ids);
    }
    assert_eq!(actual, expected);
    assert_eq!(report["active_tokens"], active_count);
    assert!(expected.len() > 10, "several owners have offending tokens");

    // Without `max_days`, the tenant's own `max_pat_lifespan` (365 days) is the limit: only
    // full scope remains.
    let report = run(&inv, ReportKind::Noncompliant, ReportQuery::default(), None);
    assert_eq!(report["max_days"], 365);
    assert_eq!(
        report["noncompliant_tokens"],
        active(&inv).filter(|s| s.has_full_scope()).count()
    );

    // Usage per user.
    let report = run(&inv, ReportKind::Usage, ReportQuery::default(), None);
    let owners: BTreeSet<&str> = specs.iter().map(|s| s.owner.as_str()).collect();
    let users = report["users"].as_array().unwrap();
    assert_eq!(users.len(), owners.len());
    for user in users {
        let id = user["user"].as_str().unwrap();
        let held: Vec<&Spec> = specs.iter().filter(|s| s.owner == id).collect();
        let live: Vec<&&Spec> = held.iter().filter(|s| s.active(t0)).collect();
        assert_eq!(user["active_tokens"], live.len(), "{id}");
        assert_eq!(
            user["active_global_tokens"],
            live.iter().filter(|s| s.all_orgs).count(),
            "{id}"
        );
        assert_eq!(user["inactive_tokens"], held.len() - live.len(), "{id}");
        let best = live.iter().flat_map(|s| &s.scopes).map(|s| rank(s)).max();
        let reported = user["broadest_scope"].as_str().map(rank);
        assert_eq!(reported, best, "{id}: broadest scope");
        let last = held.iter().filter_map(|s| s.used_at).max();
        assert_eq!(
            user["last_used_at"]
                .as_str()
                .and_then(timestamp::parse_rfc3339),
            last,
            "{id}"
        );
    }

    // Automation: a program's user agent, or a telling name held by a service account.
    let report = run(&inv, ReportKind::Automation, ReportQuery::default(), None);
    let expected: BTreeSet<&str> = active(&inv)
        .filter(|s| {
            let program = s
                .used_by
                .as_deref()
                .is_some_and(|agent| PROGRAM_AGENTS.contains(&agent));
            let telling_name = s.name.contains("build") || s.name.contains("pipeline");
            program || (telling_name && SERVICE_OWNERS.contains(&s.owner.as_str()))
        })
        .map(|s| s.id.as_str())
        .collect();
    let actual: BTreeSet<&str> = report["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(actual, expected);
    assert!(expected.len() > 10);
    let browser_used = active(&inv)
        .filter(|s| s.used_by.as_deref() == Some(inventory::BROWSER_AGENT))
        .filter(|s| !SERVICE_OWNERS.contains(&s.owner.as_str()))
        .count();
    assert!(
        browser_used > 0,
        "browsers are in the data, and not flagged"
    );

    // Expiring within 14 days, soonest first.
    let report = run(
        &inv,
        ReportKind::Expiring,
        ReportQuery {
            days: Some(14),
            ..ReportQuery::default()
        },
        None,
    );
    let mut expected: Vec<(i64, &str)> = active(&inv)
        .filter(|s| s.valid_to <= t0 + 14 * DAY)
        .map(|s| (s.valid_to, s.id.as_str()))
        .collect();
    expected.sort();
    let actual: Vec<(i64, &str)> = report["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                timestamp::parse_rfc3339(t["valid_to"].as_str().unwrap()).unwrap(),
                t["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(actual, expected);
    assert!(!expected.is_empty());

    // CSV has one line per row and a header; the table has the same rows.
    let report = ReportQuery::default()
        .run(
            ReportKind::Usage,
            &inv.tokens,
            TENANT,
            Some(&inv.tenant),
            None,
            t0,
        )
        .unwrap();
    let csv = report.render(patrol_store::reports::Format::Csv);
    assert_eq!(csv.lines().count(), owners.len() + 1);
    assert!(csv.starts_with("user,active,global,inactive,broadest_scope,last_used\n"));

    // Parameters are checked at the edge, naming the field.
    let error = ReportQuery {
        days: Some(0),
        ..ReportQuery::default()
    }
    .run(ReportKind::Expiring, &inv.tokens, TENANT, None, None, t0)
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`days`: must be from 1 to 3650 days, got 0"
    );
    let error = ReportQuery::default()
        .run(
            ReportKind::Noncompliant,
            &inv.tokens,
            TENANT,
            None,
            None,
            t0,
        )
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("`max_days`: tenant `acme` has no")
    );
}

#[test]
fn violations_come_from_the_audit_log_and_the_decision_log() {
    let inv = inventory::generate();
    let t0 = inv.t0;
    // A strict configuration refuses full-access tokens and anything over 30 days.
    let strict = load(
        &inv,
        "tenant = \"acme\"\n[policies.restrict_full_scoped_pat_creation]\nenabled = true\n\
                 [policies.max_pat_lifespan]\nenabled = true\nmax_days = 30\n",
    );
    // (user, full scope, days, hours ago)
    let attempts: Vec<(String, bool, i64, i64)> = (0..24)
        .map(|i| {
            (
                format!("user{:02}@acme.example", i % 5),
                i % 3 == 0,
                if i % 2 == 0 { 60 } else { 10 },
                i * 2 + 1,
            )
        })
        .collect();
    let mut expected_policy: BTreeMap<&str, usize> = BTreeMap::new();
    let mut expected_user: BTreeMap<String, usize> = BTreeMap::new();
    for (user, full, days, hours_ago) in &attempts {
        let at = t0 - hours_ago * 3_600;
        let outcome = inv.tokens.create(
            &strict,
            NewToken {
                owner: user.clone(),
                groups: Some(Vec::new()),
                display_name: "attempt".to_string(),
                scopes: vec![if *full { "app_token" } else { "vso.code" }.to_string()],
                all_orgs: false,
                orgs: vec!["fabrikam".to_string()],
                valid_to: at + days * DAY,
                org: "fabrikam".to_string(),
            },
            at,
        );
        let refused = *full || *days > 30;
        assert_eq!(
            matches!(outcome, Err(LifecycleError::Denied(_))),
            refused,
            "{user} {full} {days}"
        );
        // Only the last 24 hours are in the report's range.
        if refused && *hours_ago < 24 {
            *expected_user.entry(user.clone()).or_default() += 1;
            if *full {
                *expected_policy
                    .entry("restrict_full_scoped_pat_creation")
                    .or_default() += 1;
            }
            if *days > 30 {
                *expected_policy.entry("max_pat_lifespan").or_default() += 1;
            }
        }
    }
    // The decision log: refusals in and out of range, another tenant's, an API answer, an
    // allowed decision,
    // an audited (not enforced) violation, and a line cut short by a crash.
    let log = inv.dir.path().join("decisions.log");
    let line_from = |source: &str,
                     hours_ago: i64,
                     tenant: &str,
                     user: &str,
                     allowed: bool,
                     violations: Value| {
        json!({
            "decision_id": "x", "source": source, "time": timestamp::format_rfc3339(t0 - hours_ago * 3_600),
            "tenant": tenant, "operation": "use", "actor": { "id": user, "groups": [] },
            "org": "fabrikam", "token_id": "t", "allowed": allowed, "violations": violations,
            "actions": [], "adjusted_valid_to": null, "policies": [], "duration_us": 1.0
        })
        .to_string()
    };
    let line = |hours_ago: i64, tenant: &str, user: &str, allowed: bool, violations: Value| {
        line_from("gateway", hours_ago, tenant, user, allowed, violations)
    };
    let global = json!([{ "policy": "restrict_global_pat_creation", "code": "globalPatUsageDisabled", "enforced": true, "message": "m" }]);
    let audited = json!([{ "policy": "max_pat_lifespan", "code": "patLifespanPolicyViolation", "enforced": false, "message": "m" }]);
    let lines = [
        line(2, TENANT, "user01@acme.example", false, global.clone()),
        line(3, TENANT, "user09@acme.example", false, global.clone()),
        line(30, TENANT, "user09@acme.example", false, global.clone()),
        line(2, "other", "user01@acme.example", false, global.clone()),
        // Asked of the decisions API, which refuses nothing: not a violation.
        line_from(
            "api",
            2,
            TENANT,
            "user03@acme.example",
            false,
            global.clone(),
        ),
        line(2, TENANT, "user01@acme.example", true, audited),
        "{\"decision_id\":\"cut".to_string(),
    ];
    let mut bytes = (lines.join("\n") + "\n").into_bytes();
    bytes.extend_from_slice(b"{\"torn\": \"\xe2\x82\n"); // cut mid-character
    std::fs::write(&log, bytes).unwrap();
    std::fs::write(
        format!("{}.1", log.display()),
        line(4, TENANT, "user09@acme.example", false, global.clone()) + "\n",
    )
    .unwrap();
    *expected_policy
        .entry("restrict_global_pat_creation")
        .or_default() += 3;
    *expected_user
        .entry("user01@acme.example".to_string())
        .or_default() += 1;
    *expected_user
        .entry("user09@acme.example".to_string())
        .or_default() += 2;

    let report = run(
        &inv,
        ReportKind::Violations,
        ReportQuery {
            since: Some(t0 - 24 * 3_600),
            until: Some(t0),
            ..ReportQuery::default()
        },
        Some(&log),
    );
    let by_policy: BTreeMap<&str, usize> = report["by_policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["policy"].as_str().unwrap(),
                p["violations"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(by_policy, expected_policy);
    let by_user: BTreeMap<String, usize> = report["by_user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user"].as_str().unwrap().to_string(),
                u["denied_requests"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(by_user, expected_user);
    assert_eq!(
        report["denied_requests"],
        expected_user.values().sum::<usize>()
    );
    assert_eq!(report["unreadable_lines"], 2);
    assert_eq!(report["decision_log"].as_array().unwrap().len(), 2);
}

#[test]
fn the_dry_run_lists_what_a_proposal_would_break_and_what_is_new() {
    let inv = inventory::generate();
    let t0 = inv.t0;
    // Today: max 180 days. Proposed: max 90 days, and no full-access tokens.
    let today = load(
        &inv,
        "tenant = \"acme\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 180\n",
    );
    let proposed = load(
        &inv,
        "tenant = \"acme\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 90\n\
                 [policies.restrict_full_scoped_pat_creation]\nenabled = true\n",
    );
    let report = whatif(&inv.tokens, Some(&today), &proposed, "proposed.toml", t0).unwrap();

    // Regenerating keeps the lifetime: over 90 days fails; full scope fails. Use is judged
    // by neither policy.
    let too_long: BTreeSet<&str> = active(&inv)
        .filter(|s| s.lifetime() > 90 * DAY)
        .map(|s| s.id.as_str())
        .collect();
    let too_long_new: BTreeSet<&str> = active(&inv)
        .filter(|s| s.lifetime() > 90 * DAY && s.lifetime() <= 180 * DAY)
        .map(|s| s.id.as_str())
        .collect();
    let full: BTreeSet<&str> = active(&inv)
        .filter(|s| s.has_full_scope())
        .map(|s| s.id.as_str())
        .collect();
    let failing: BTreeSet<&str> = too_long.union(&full).copied().collect();
    let per_policy: BTreeMap<&str, (usize, usize)> = report
        .per_policy
        .iter()
        .map(|p| (p.policy.as_str(), (p.tokens, p.newly_failing)))
        .collect();
    assert_eq!(
        per_policy,
        BTreeMap::from([
            ("max_pat_lifespan", (too_long.len(), too_long_new.len())),
            (
                "restrict_full_scoped_pat_creation",
                (full.len(), full.len())
            ),
        ])
    );
    let reported: BTreeSet<&str> = report
        .owners
        .iter()
        .flat_map(|o| o.tokens.iter().map(|t| t.id.as_str()))
        .collect();
    assert_eq!(reported, failing);
    assert_eq!(report.failing_tokens, failing.len());
    assert_eq!(report.active_tokens, active(&inv).count());
    for owner in &report.owners {
        for token in &owner.tokens {
            let spec = inv.specs.iter().find(|s| s.id == token.id).unwrap();
            assert_eq!(spec.owner, owner.owner);
            assert!(token.failures.iter().all(|f| f.operation == "regenerate"));
        }
    }

    // Nothing changed: the same tokens, still active; no audit entry.
    assert_eq!(
        patrol_store::reports::all_tokens(&inv.tokens, TENANT, t0)
            .unwrap()
            .iter()
            .filter(|t| t.revoked_at.is_none() && t.valid_to > t0)
            .count(),
        active(&inv).count()
    );
    let changes = inv
        .tokens
        .audit_log(
            TENANT,
            &AuditQuery {
                event: Some(AuditEvent::PolicyValueUpdated),
                limit: 10,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert!(changes.is_empty());
}
