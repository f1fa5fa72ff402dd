//! Many tenants in one host: loads 10,000 tenants that all use the five seed policies, each
//! with settings of its own, and reports the resident memory they take and how long loading
//! took. Not a criterion benchmark: it measures memory once.
//!
//! Run with `cargo bench -p patrol-benches --bench tenants`; under `cargo test` it loads 200
//! tenants, to check that it works.

use std::path::Path;
use std::time::Instant;

use patrol::{Engine, EngineConfig, Request, TenantConfig};

/// Resident memory of this process, in bytes, from `/proc/self/status`.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn tenant_toml(i: usize) -> String {
    format!(
        "tenant = \"tenant-{i}\"\n\
         [policies.restrict_global_pat_creation]\nenabled = true\n\
         allowlist = {{ users = [\"admin-{i}@example.com\"], groups = [\"admins-{i}\"] }}\n\
         [policies.restrict_full_scoped_pat_creation]\nenabled = {}\n\
         [policies.max_pat_lifespan]\nenabled = true\nmax_days = {}\nclamp = {}\n\
         [policies.revoke_leaked_pats]\nenabled = true\n\
         [orgs.org-{i}]\nentra_backed = true\n\
         [orgs.org-{i}.policies.restrict_pat_creation]\nenabled = true\n\
         allow_packaging_scope_only = {}\nallowlist = {{ groups = [\"release-{i}\"] }}\n",
        !i.is_multiple_of(3),
        1 + i % 365,
        i.is_multiple_of(2),
        i.is_multiple_of(5),
    )
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let count = if full { 10_000 } else { 200 };
    let engine = Engine::new(EngineConfig::default()).unwrap();
    // Compile the seed bundle first, so the figures are about tenants.
    let first = TenantConfig::from_toml(&tenant_toml(0), "tenant-0", Path::new(".")).unwrap();
    let mut tenants = vec![patrol::Tenant::load(&engine, &first).unwrap()];
    let before = resident_bytes();
    let started = Instant::now();
    for i in 1..count {
        let config = TenantConfig::from_toml(&tenant_toml(i), "tenant", Path::new(".")).unwrap();
        tenants.push(patrol::Tenant::load(&engine, &config).unwrap());
    }
    let elapsed = started.elapsed();
    let after = resident_bytes();
    // Every tenant answers, with its own settings.
    let request = Request::from_json(
        r#"{"operation":"create","now":"2026-11-28T12:00:00Z","org":"elsewhere",
            "user":{"id":"bob"},"token":{"scopes":["vso.code"],"orgs":["elsewhere"],
            "valid_to":"2027-01-01T00:00:00Z"}}"#,
    )
    .unwrap();
    for (i, tenant) in tenants.iter().enumerate() {
        // 2026-11-28T12:00Z to 2027-01-01: 33 and a half days.
        let lifespan_seconds = 33 * 86_400 + 43_200;
        let max_seconds = (1 + i % 365) as i64 * 86_400;
        let clamps = i.is_multiple_of(2);
        let allowed = tenant.evaluate(&request).allowed;
        assert_eq!(
            allowed,
            lifespan_seconds <= max_seconds || clamps,
            "tenant-{i}"
        );
    }
    println!(
        "{count} tenants: loaded in {:.2?} ({:.1} µs each); resident memory {:.1} MiB before, \
         {:.1} MiB after: {:.1} MiB for the tenants ({:.1} KiB each)",
        elapsed,
        elapsed.as_secs_f64() * 1e6 / (count - 1) as f64,
        before as f64 / (1 << 20) as f64,
        after as f64 / (1 << 20) as f64,
        after.saturating_sub(before) as f64 / (1 << 20) as f64,
        after.saturating_sub(before) as f64 / 1024.0 / (count - 1) as f64,
    );
}
