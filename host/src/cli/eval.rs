//! `patrol eval`: one request, one decision.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use patrol::{Engine, Request, TenantConfig};

use super::Outcome;

pub fn run(config_path: &Path, request_path: &Path) -> anyhow::Result<Outcome> {
    let request_json = read_request(request_path)?;
    let request = Request::from_json(&request_json)
        .with_context(|| format!("{}: invalid request", request_path.display()))?;
    let config = TenantConfig::from_file(config_path)?;
    let engine = Engine::new(super::engine_config())?;
    let tenant = engine.load_tenant(&config)?;
    let decision = tenant.evaluate(&request);
    super::emit(&decision.to_json());
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
