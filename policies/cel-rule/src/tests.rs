//! The rule's own logic, natively; `host/tests` runs it as a component through the real host.

use patrol_guest::{Actor, Operation, Request, Token, Verdict};
use serde_json::json;

use super::*;

fn rule(settings: serde_json::Value) -> Result<Compiled, String> {
    let settings: Settings = serde_json::from_value(settings).map_err(|e| e.to_string())?;
    compile(settings).map(|(compiled, _)| compiled)
}

fn effective(settings: serde_json::Value) -> serde_json::Value {
    compile(serde_json::from_value(settings).unwrap())
        .unwrap()
        .1
}

fn request(groups: &[&str], scopes: &[&str], days: i64) -> Request {
    let now = 1_795_867_200;
    Request {
        operation: Operation::Create,
        now,
        org: "Fabrikam".to_string(),
        user: Actor {
            id: "Bob@Contoso.com".to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        },
        token: Token {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            all_orgs: false,
            orgs: vec!["fabrikam".to_string()],
            valid_from: now,
            valid_to: now + days * 86_400,
        },
    }
}

fn codes(verdict: &Verdict) -> Vec<(&str, &str)> {
    verdict
        .violations
        .iter()
        .map(|v| (v.code.as_str(), v.message.as_str()))
        .collect()
}

#[test]
fn the_issue_example_refuses_contractors_with_manage_scopes() {
    let compiled = rule(json!({
        "name": "contractors-no-manage",
        "expression": r#"!(user.groups.exists(g, g == "contractors") && token.scopes.exists(s, s.endsWith("_manage")))"#,
        "code": "contractorManageScope",
        "message": "contractors may not hold manage scopes",
    }))
    .unwrap();
    let refused = evaluate(
        &compiled,
        &request(&["Contractors"], &["vso.build_manage"], 7),
    );
    assert_eq!(
        codes(&refused),
        [(
            "contractorManageScope",
            "contractors may not hold manage scopes"
        )]
    );
    assert!(evaluate(&compiled, &request(&["eng"], &["vso.build_manage"], 7)).is_allowed());
    assert!(evaluate(&compiled, &request(&["contractors"], &["vso.code"], 7)).is_allowed());
}

#[test]
fn timestamps_and_durations_have_their_cel_types() {
    let compiled = rule(json!({
        "name": "week",
        "expression": r#"token.valid_to - now <= duration(params.longest)"#,
        "params": { "longest": "168h" },
        "message_expression": r#""at most " + params.longest + ", asked until " + string(token.valid_to)"#,
    }))
    .unwrap();
    assert!(evaluate(&compiled, &request(&[], &["vso.code"], 7)).is_allowed());
    let refused = evaluate(&compiled, &request(&[], &["vso.code"], 8));
    assert_eq!(
        codes(&refused),
        [(
            DEFAULT_CODE,
            "at most 168h, asked until 2026-12-06T12:00:00Z"
        )]
    );
}

#[test]
fn names_arrive_in_lowercase() {
    let compiled = rule(json!({
        "name": "bob-in-fabrikam",
        "expression": r#"user.id == "bob@contoso.com" && org == "fabrikam""#,
    }))
    .unwrap();
    assert!(evaluate(&compiled, &request(&[], &["vso.code"], 7)).is_allowed());
}

#[test]
fn operations_default_to_issuance_and_leaks_are_refused() {
    let compiled = rule(json!({ "name": "never", "expression": "false" })).unwrap();
    let mut used = request(&[], &["vso.code"], 7);
    used.operation = Operation::Use;
    assert!(evaluate(&compiled, &used).is_allowed());
    assert!(!evaluate(&compiled, &request(&[], &["vso.code"], 7)).is_allowed());
    let error =
        rule(json!({ "name": "x", "expression": "true", "operations": ["leak"] })).unwrap_err();
    assert!(error.contains("rules do not judge leaks"), "{error}");
    let error =
        rule(json!({ "name": "x", "expression": "true", "operations": ["delete"] })).unwrap_err();
    assert!(
        error.contains("`operations[0]`: unknown operation `delete`"),
        "{error}"
    );
}

#[test]
fn errors_name_the_field_and_the_position() {
    let cases = [
        (
            json!({ "name": "x", "expression": "token.scopes.exists(s, s ==)" }),
            "`expression` (`token.scopes.exists(s, s ==)`) does not parse, at line 1, column 28: unexpected `)`",
        ),
        (
            json!({ "name": "x", "expression": "true &&\n  tokn.all_orgs" }),
            "`expression` at line 2, column 3: unknown variable `tokn`",
        ),
        (
            json!({ "name": "x", "expression": "token.valid_to > 7" }),
            "`expression` (`token.valid_to > 7`) cannot be evaluated (on a sample `create` request): found no \
             matching overload for '_>_' applied to '(google.protobuf.Timestamp, int)'",
        ),
        (
            json!({ "name": "x", "expression": "token.scopes.size()" }),
            "`expression` (`token.scopes.size()`) must evaluate to a bool, but gives an int",
        ),
        (
            json!({ "name": "x", "expression": "true", "message_expression": "1 + 1" }),
            "`message_expression` (`1 + 1`) must evaluate to a string, but gives an int",
        ),
        (
            json!({ "name": "x", "expression": "true", "code": "no spaces" }),
            "`code`: `no spaces` is not a valid code",
        ),
        (
            json!({ "name": "x", "expression": " " }),
            "`expression` is empty",
        ),
    ];
    for (settings, expected) in cases {
        let error = rule(settings.clone()).unwrap_err();
        assert!(
            error.starts_with(expected),
            "{settings}:\n  {error}\n  expected {expected}"
        );
    }
}

#[test]
fn too_big_too_deep_and_too_costly_expressions_are_refused() {
    let long = format!("true{}", " && true".repeat(MAX_EXPRESSION_BYTES / 8));
    let error = rule(json!({ "name": "x", "expression": long })).unwrap_err();
    assert!(
        error.contains("more than the 4096 a rule may have"),
        "{error}"
    );
    let deep = format!("{}true{}", "(".repeat(40), ")".repeat(40));
    let error = rule(json!({ "name": "x", "expression": deep })).unwrap_err();
    assert!(
        error.contains("is nested too deeply at line 1, column 33"),
        "{error}"
    );
    let chain = vec!["1"; MAX_DEPTH + 1].join(" + ") + " > 0";
    let error = rule(json!({ "name": "x", "expression": chain })).unwrap_err();
    assert!(
        error.contains("is nested too deeply: 66 levels, at most 64"),
        "{error}"
    );
    let costly = "user.groups.all(a, user.groups.all(b, user.groups.all(c, a + b + c != '')))";
    let error = rule(json!({ "name": "x", "expression": costly })).unwrap_err();
    assert!(
        error.contains("is too costly: its estimated cost is"),
        "{error}"
    );
}

#[test]
fn evaluation_errors_fail_closed_with_the_rule_named() {
    let compiled =
        rule(json!({ "name": "second-org", "expression": "token.orgs[1] != ''" })).unwrap();
    let verdict = evaluate(&compiled, &request(&[], &["vso.code"], 7));
    assert_eq!(verdict.violations.len(), 1);
    assert_eq!(verdict.violations[0].code, ERROR_CODE);
    assert!(
        verdict.violations[0]
            .message
            .starts_with("rule `second-org` could not be evaluated"),
        "{:?}",
        verdict.violations
    );
}

#[test]
fn the_effective_settings_show_what_the_rule_reads_and_costs() {
    let shown = effective(json!({
        "name": "x",
        "expression": "token.scopes.all(s, s in params.allowed) || user.groups.exists(g, g == 'a')",
        "params": { "allowed": ["vso.code"] },
    }));
    assert_eq!(
        shown["references"],
        json!(["params.allowed", "token.scopes", "user.groups"])
    );
    assert_eq!(shown["code"], DEFAULT_CODE);
    assert_eq!(shown["operations"], json!(["create", "regenerate"]));
    assert!(shown["estimated_cost"].as_u64().unwrap() > 100);
}

#[test]
fn compiled_rules_round_trip_through_the_compact_form() {
    let compiled = rule(json!({
        "name": "x",
        "expression": "{'a': [1, 2u, 2.5, b'x', null]}.a.size() == 5 && has(user.id)",
        "params": { "n": 1, "m": { "k": [true] } },
    }))
    .unwrap();
    let prepared = patrol_guest::compile_settings(&compiled).unwrap();
    let decoded: Compiled = patrol_guest::decode_settings(&prepared.compiled).unwrap();
    assert_eq!(decoded, compiled);
    assert!(evaluate(&decoded, &request(&[], &["vso.code"], 7)).is_allowed());
}
