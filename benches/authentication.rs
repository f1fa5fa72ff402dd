//! The gateway path: what authenticating a token costs on top of the `use` decision it
//! contains, side by side in one run. The store is a real SQLite file holding 200 tokens (each
//! created with its own synced commit, so more would make the set-up slow, not the lookup).
//!
//! - `use decision alone`: the tenant's `use` policies, as `POST .../decisions` runs them;
//! - `authenticate`: format and checksum, SHA-256, the store lookup, the owner's groups from
//!   the directory, the same `use` decision, and recording the use in memory;
//! - `unknown token`: format, checksum and a lookup that finds nothing;
//! - `mistyped token`: refused by its checksum, without touching the store;
//! - `postgres cache hit`: `authenticate` on a replica of the fleet (`patrol serve
//!   --database`), the token record and the owner's groups in its memory;
//! - `postgres cache miss`: the same, with the cache emptied before each call, so that the
//!   token and the groups are read from PostgreSQL (a real server on loopback, started for the
//!   benchmark; two prepared primary-key queries).
//!
//! Run with `cargo bench -p patrol-benches --bench authentication`.

mod fixtures;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol::{Engine, EngineConfig};
use patrol_store::tokens::{Cache, Client, NewToken, PgStore, Secret, SqliteStore, Tokens};

const TOKENS: usize = 200;

fn authentication(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let config = fixtures::config(&fixtures::root().join("examples/contoso/tenant.toml"));
    let tenant = fixtures::load(&engine, &config);
    let dir = tempfile::tempdir().unwrap();
    let tokens = Tokens::new(Arc::new(
        SqliteStore::open(&dir.path().join("patrol.db")).unwrap(),
    ));
    let now = patrol::timestamp::now();
    let secrets = fill(&tokens, &tenant, now);
    let database = patrol_test_support::postgres::Postgres::shared().create_database("bench");
    let cache = Arc::new(Cache::new(std::time::Duration::from_secs(86_400)));
    let replica = Tokens::with_cache(
        Arc::new(PgStore::connect(&database).unwrap()),
        Arc::clone(&cache),
    );
    // Nothing else changes the database: the cache stays true without a follower.
    cache.caught_up();
    let replica_secrets = fill(&replica, &tenant, now);
    let replica_secret = replica_secrets[TOKENS / 2].expose().to_string();
    let secret = secrets[TOKENS / 2].expose().to_string();
    let token = tokens
        .authenticate(&tenant, &secret, "contoso-main", Client::default(), now)
        .unwrap()
        .token;
    let request = tokens.use_request(&token, "contoso-main", now).unwrap();
    let unknown = Secret::generate().unwrap().expose().to_string();
    let mut mistyped = secret.clone().into_bytes();
    mistyped[10] = if mistyped[10] == b'a' { b'b' } else { b'a' };
    let mistyped = String::from_utf8(mistyped).unwrap();

    let mut group = c.benchmark_group("authentication");
    group.bench_function("use decision alone", |b| {
        b.iter(|| tenant.evaluate(black_box(&request)))
    });
    group.bench_function("authenticate", |b| {
        b.iter(|| {
            tokens
                .authenticate(
                    &tenant,
                    black_box(&secret),
                    "contoso-main",
                    Client::default(),
                    now,
                )
                .unwrap()
        })
    });
    group.bench_function("postgres cache hit", |b| {
        b.iter(|| {
            replica
                .authenticate(
                    &tenant,
                    black_box(&replica_secret),
                    "contoso-main",
                    Client::default(),
                    now,
                )
                .unwrap()
        })
    });
    group.bench_function("postgres cache miss", |b| {
        b.iter(|| {
            cache.clear();
            replica
                .authenticate(
                    &tenant,
                    black_box(&replica_secret),
                    "contoso-main",
                    Client::default(),
                    now,
                )
                .unwrap()
        })
    });
    group.bench_function("unknown token", |b| {
        b.iter(|| {
            tokens
                .authenticate(
                    &tenant,
                    black_box(&unknown),
                    "contoso-main",
                    Client::default(),
                    now,
                )
                .unwrap_err()
        })
    });
    group.bench_function("mistyped token", |b| {
        b.iter(|| {
            tokens
                .authenticate(
                    &tenant,
                    black_box(&mistyped),
                    "contoso-main",
                    Client::default(),
                    now,
                )
                .unwrap_err()
        })
    });
    group.finish();
}

/// Creates the tokens the benchmark picks from.
fn fill(tokens: &Tokens, tenant: &patrol::Tenant, now: i64) -> Vec<Secret> {
    let mut secrets = Vec::with_capacity(TOKENS);
    for i in 0..TOKENS {
        let issued = tokens
            .create(
                tenant,
                NewToken {
                    owner: format!("user{i}@contoso.com"),
                    groups: None,
                    display_name: "bench".to_string(),
                    scopes: vec!["vso.code".to_string()],
                    all_orgs: false,
                    orgs: vec!["contoso-main".to_string()],
                    valid_to: now + 30 * 86_400,
                    org: "contoso-main".to_string(),
                },
                now,
            )
            .unwrap();
        secrets.push(issued.secret);
    }
    secrets
}

criterion_group!(benches, authentication);
criterion_main!(benches);
