//! `patrol eval`: one request, one decision; with `--explain`, how each policy took part.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use patrol::{Decision, Engine, Request, Tenant, TenantConfig};
use serde_json::{Value, json};

use super::Outcome;

pub fn run(config_path: &Path, request_path: &Path, explain: bool) -> anyhow::Result<Outcome> {
    let request_json = read_request(request_path)?;
    let request = Request::from_json(&request_json)
        .with_context(|| format!("{}: invalid request", request_path.display()))?;
    let config = TenantConfig::from_file(config_path)?;
    let engine = Engine::new(super::engine_config()?)?;
    let tenant = patrol::Tenant::load(&engine, &config)?;
    tenant
        .check(&request)
        .with_context(|| format!("{}: invalid request", request_path.display()))?;
    let decision = tenant.evaluate(&request);
    if explain {
        super::emit(&serde_json::to_string_pretty(&explanation(
            &tenant, &request, &decision,
        ))?);
    } else {
        super::emit(&decision.to_json());
    }
    Ok(if decision.allowed {
        Outcome::Success
    } else {
        Outcome::Denied
    })
}

fn read_request(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the request from standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
    }
}

/// The decision, and for each configured policy, in evaluation order: whether it applied to
/// the operation, its settings after defaults, mode and allowlist, its verdict and time, and the
/// violations it reported, in its own words. A rule also shows its expression and the values
/// of the variables it read (`saw`).
fn explanation(tenant: &Tenant, request: &Request, decision: &Decision) -> Value {
    let policies: Vec<Value> = tenant
        .policies()
        .map(|policy| {
            let trace = decision
                .trace
                .iter()
                .find(|trace| &*trace.policy == policy.name && trace.org.as_deref() == policy.org);
            let violations: Vec<Value> = decision
                .violations
                .iter()
                .filter(|violation| &*violation.policy == policy.name)
                .map(|violation| {
                    json!({
                        "code": violation.code,
                        "enforced": violation.enforced,
                        "rule": violation.message,
                    })
                })
                .collect();
            let settings =
                serde_json::from_str::<Value>(policy.effective_settings).unwrap_or(Value::Null);
            let rule = (policy.metadata.name == patrol::rules::RULE_POLICY).then(|| {
                json!({
                    "expression": settings.get("expression"),
                    "saw": patrol::rules::seen(request, &settings),
                })
            });
            json!({
                "policy": policy.name,
                "rule": rule,
                "org": policy.org,
                "applied": trace.is_some_and(|trace| {
                    !matches!(trace.outcome, patrol::decision::TraceOutcome::NotApplicable)
                }),
                "verdict": trace.map(|trace| trace.outcome),
                "time_us": trace.map(|trace| (trace.elapsed.as_nanos() as f64 / 100.0).round() / 10.0),
                "mode": policy.mode,
                "settings": settings,
                "allowlist": policy.allowlist,
                "violations": violations,
            })
        })
        .collect();
    json!({ "decision": decision, "policies": policies })
}
