//! `patrol check`: load a configuration the way the server would, and describe it.

use std::path::Path;

use patrol::{Engine, TenantConfig};

use super::Outcome;

pub fn run(config_path: &Path) -> anyhow::Result<Outcome> {
    let config = TenantConfig::from_file(config_path)?;
    let engine = Engine::new(super::engine_config()?)?;
    // Every invalid policy and rule at once, rather than the first.
    let tenant = match patrol::Tenant::load_every_policy(&engine, &config) {
        Ok(tenant) => tenant,
        Err(errors) => {
            if let [only] = &errors[..] {
                return Err(only.clone().into());
            }
            for error in &errors {
                eprintln!("error: {error}");
            }
            anyhow::bail!(
                "{}: {} policies and rules are invalid (listed above)",
                config.origin,
                errors.len()
            );
        }
    };
    let count = tenant.policies().count();
    super::emit(&format!(
        "{}: tenant `{}` is valid: {count} {} on",
        tenant.origin(),
        tenant.name(),
        if count == 1 { "policy" } else { "policies" }
    ));
    for policy in tenant.policies() {
        let name = match policy.org {
            Some(org) => format!("{} (organization `{org}`)", policy.name),
            None => policy.name.to_string(),
        };
        let operations: Vec<&str> = policy.operations.iter().map(|op| op.as_str()).collect();
        let runs_in = match (policy.bundled, policy.metadata.name.as_str()) {
            (true, patrol::rules::RULE_POLICY) => "the rules bundle",
            (true, _) => "the seed bundle",
            (false, _) => "its own instance",
        };
        super::emit(&format!(
            "  {name}: {} {}, judges {}, runs in {runs_in}, {}{}",
            policy.metadata.name,
            policy.metadata.version,
            operations.join("/"),
            policy.digest,
            match policy.mode {
                patrol::config::Mode::Audit => ", audit mode",
                patrol::config::Mode::Enforce => "",
            }
        ));
    }
    Ok(Outcome::Success)
}
