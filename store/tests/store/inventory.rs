//! A data directory holding a few hundred generated tokens, made through the real lifecycle
//! (create, authenticate, revoke) on the real SQLite file, and a plain description of each, from
//! which the tests compute what every report must say without using patrol's report code.

// Shared by the store's tests and the command's (`cli/tests/cli/main.rs`); each uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use patrol::{Engine, EngineConfig, Tenant, TenantConfig};
use patrol_store::DataDir;
use patrol_store::tokens::{Client, NewToken, SqliteStore, Tokens};

/// How many tokens are generated.
pub const TOKENS: usize = 300;
/// The tenant they belong to.
pub const TENANT: &str = "acme";
/// Owners whose ids say "service account".
pub const SERVICE_OWNERS: [&str; 2] = ["svc-deploy@acme.example", "release-bot@acme.example"];
/// User agents of programs, as the automation report must recognise them.
pub const PROGRAM_AGENTS: [&str; 3] = [
    "curl/8.5.0",
    "azure-pipelines-agent/3.236.1",
    "python-requests/2.31.0",
];
/// A browser.
pub const BROWSER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0";
/// The scope sets tokens get, in turn.
pub const SCOPE_SETS: [&[&str]; 5] = [
    &["vso.code"],
    &["vso.code_write", "vso.work"],
    &["vso.build_execute"],
    &["app_token"],
    &["vso.packaging_manage", "vso.code"],
];
/// Lifetimes in days, in turn.
pub const LIFETIMES: [i64; 6] = [7, 30, 45, 90, 180, 365];

/// What the test knows about one generated token.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub all_orgs: bool,
    pub valid_from: i64,
    pub valid_to: i64,
    pub revoked: bool,
    /// The client of its one use, if it was used.
    pub used_by: Option<String>,
    pub used_at: Option<i64>,
}

impl Spec {
    /// Valid at `now` and not revoked.
    pub fn active(&self, now: i64) -> bool {
        !self.revoked && self.valid_to > now
    }

    pub fn lifetime(&self) -> i64 {
        self.valid_to - self.valid_from
    }

    pub fn has_full_scope(&self) -> bool {
        self.scopes.iter().any(|s| s == "app_token")
    }
}

/// The generated data directory.
pub struct Inventory {
    pub dir: tempfile::TempDir,
    /// When the tokens were generated: every time below is at least an hour from a day
    /// boundary relative to it, so reports made a few seconds later agree.
    pub t0: i64,
    pub specs: Vec<Spec>,
    pub tokens: Tokens,
    pub tenant: Tenant,
    pub engine: Engine,
}

impl Inventory {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// A tenant configuration file for `acme` in the data directory.
pub fn write_tenant(data_dir: &Path, toml: &str) {
    std::fs::write(data_dir.join("tenants/acme.toml"), toml).unwrap();
}

/// Generates the inventory. The tenant starts with no policy but `max_pat_lifespan` at 365
/// days, so every generated token is allowed.
pub fn generate() -> Inventory {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(&dir.path().join("data")).unwrap();
    let config = "tenant = \"acme\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 365\n";
    write_tenant(data.root(), config);
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let tenant = patrol::Tenant::load(
        &engine,
        &TenantConfig::from_toml(config, "acme.toml", &data.tenants()).unwrap(),
    )
    .unwrap();
    let tokens = Tokens::new(std::sync::Arc::new(
        SqliteStore::open(&data.database()).unwrap(),
    ));
    let t0 = patrol::timestamp::now();
    let mut specs = Vec::with_capacity(TOKENS);
    for i in 0..TOKENS {
        let owner = match i % 19 {
            0 => SERVICE_OWNERS[0].to_string(),
            1 => SERVICE_OWNERS[1].to_string(),
            n => format!("user{n:02}@acme.example"),
        };
        let name = match i % 4 {
            0 => format!("laptop {i}"),
            1 => format!("nightly build {i}"),
            2 => format!("personal {i}"),
            _ => format!("deploy pipeline {i}"),
        };
        let age_days = i64::try_from((i * 7) % 200 + 1).unwrap();
        let created = t0 - age_days * 86_400 - 3_600;
        let lifetime = LIFETIMES[(i * 5 + i / 7) % LIFETIMES.len()];
        let scopes: Vec<String> = SCOPE_SETS[i % SCOPE_SETS.len()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all_orgs = i % 11 == 0;
        let issued = tokens
            .create(
                &tenant,
                NewToken {
                    owner: owner.clone(),
                    groups: Some(Vec::new()),
                    display_name: name.clone(),
                    scopes: scopes.clone(),
                    all_orgs,
                    orgs: vec!["fabrikam".to_string()],
                    valid_to: created + lifetime * 86_400,
                    org: "fabrikam".to_string(),
                },
                created,
            )
            .unwrap_or_else(|e| panic!("token {i}: {e}: {e:?}"));
        let mut spec = Spec {
            id: issued.token.id.clone(),
            owner,
            name,
            scopes,
            all_orgs,
            valid_from: created,
            valid_to: created + lifetime * 86_400,
            revoked: false,
            used_by: None,
            used_at: None,
        };
        let used_at = t0 - 7_200;
        if i % 3 == 0 && spec.valid_to > used_at {
            let agent = match (i / 3) % 4 {
                0 => BROWSER_AGENT,
                n => PROGRAM_AGENTS[n - 1],
            };
            tokens
                .authenticate(
                    &tenant,
                    issued.secret.expose(),
                    "fabrikam",
                    Client {
                        user_agent: Some(agent.to_string()),
                        address: Some(format!("10.0.0.{}", i % 250)),
                    },
                    used_at,
                )
                .unwrap_or_else(|e| panic!("token {i} authenticates: {e}"));
            spec.used_by = Some(agent.to_string());
            spec.used_at = Some(used_at);
        }
        if i % 13 == 0 {
            tokens
                .revoke(TENANT, &spec.id, "admin@acme.example", "test", t0 - 3_600)
                .unwrap();
            spec.revoked = true;
        }
        specs.push(spec);
    }
    tokens.flush_uses().unwrap();
    Inventory {
        dir,
        t0,
        specs,
        tokens,
        tenant,
        engine,
    }
}
