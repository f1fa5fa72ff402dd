//! The token store's conformance suite: the token lifecycle through the library with the real
//! seed policies — create (denied, clamped), list and paginate, regenerate, revoke,
//! authenticate, leaks, notifications, the group directory, policy-change audit, the change
//! log, durability across reopening, and that no secret is ever written anywhere — run once on
//! a real SQLite file and once on a real PostgreSQL server (started by the test, see
//! `patrol_test_support::postgres`). Every test is written once, against the `TokenStore`
//! contract; the `conformance!` list at the end runs each on both backends.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use patrol::{Engine, EngineConfig, Tenant, TenantConfig};
use patrol_store::tokens::ChangeKind;
use patrol_store::tokens::{
    AuditEvent, AuditQuery, AuthError, CREDENTIAL_PREFIX, Client, LeakOutcome, LeakSource,
    LifecycleError, NewToken, Notifier, NotifierConfig, PgStore, Role, ScimConflict, ScimKind,
    ScimRecord, ScimWrite, Secret, SqliteStore, TokenFilter, TokenOrder, TokenQuery, TokenRecord,
    TokenStatus, TokenStore, Tokens, USER_DEPROVISIONED,
};
use patrol_test_support::webhook::Webhook;

const DAY: i64 = 86_400;
const NOW: i64 = 1_800_000_000;

const ACME: &str = r#"
tenant = "acme"
[policies.restrict_global_pat_creation]
enabled = true
allowlist = { groups = ["pat-admins"] }
[policies.max_pat_lifespan]
enabled = true
max_days = 90
clamp = true
[policies.revoke_leaked_pats]
enabled = true
allowlist = { groups = ["leak-exempt"] }
[orgs.fabrikam]
entra_backed = true
[orgs.fabrikam.policies.restrict_pat_creation]
enabled = true
allowlist = { groups = ["release-engineers"] }
"#;

/// A tenant where leaked tokens are not revoked automatically.
const BETA: &str = r#"
tenant = "beta"
[policies.revoke_leaked_pats]
enabled = false
"#;

fn tenant(engine: &Engine, text: &str) -> Arc<Tenant> {
    let config = TenantConfig::from_toml(text, "test", Path::new(".")).unwrap();
    Arc::new(patrol::Tenant::load(engine, &config).unwrap())
}

/// The store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A database of its own on the test process's PostgreSQL server.
    Postgres,
}

struct Fixture {
    backend: Backend,
    dir: tempfile::TempDir,
    /// The PostgreSQL database's URL.
    url: Option<String>,
    tokens: Tokens,
    acme: Arc<Tenant>,
    beta: Arc<Tenant>,
}

impl Fixture {
    fn new(backend: Backend) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(EngineConfig::default()).unwrap();
        let url = (backend == Backend::Postgres).then(|| {
            patrol_test_support::postgres::Postgres::shared().create_database("conformance")
        });
        Fixture {
            backend,
            tokens: Tokens::new(open_store(dir.path(), url.as_deref())),
            acme: tenant(&engine, ACME),
            beta: tenant(&engine, BETA),
            dir,
            url,
        }
    }

    /// Another connection to the same store, as another process (or replica) would open.
    fn open_store(&self) -> Arc<dyn TokenStore> {
        open_store(self.dir.path(), self.url.as_deref())
    }

    fn reopen(&self) -> Tokens {
        Tokens::new(self.open_store())
    }

    fn tenant_of(&self) -> impl Fn(&str) -> Option<Arc<Tenant>> + '_ {
        |name| match name {
            "acme" => Some(Arc::clone(&self.acme)),
            "beta" => Some(Arc::clone(&self.beta)),
            _ => None,
        }
    }
}

fn open_store(dir: &Path, url: Option<&str>) -> Arc<dyn TokenStore> {
    match url {
        None => Arc::new(SqliteStore::open(&dir.join("patrol.db")).unwrap()),
        Some(url) => Arc::new(PgStore::connect(url).unwrap()),
    }
}

/// What `hook` received, as JSON.
fn received(hook: &Webhook) -> Vec<serde_json::Value> {
    hook.bodies()
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect()
}

fn new_token(owner: &str, org: &str, days: i64) -> NewToken {
    new_token_at(owner, org, NOW, days)
}

fn new_token_at(owner: &str, org: &str, now: i64, days: i64) -> NewToken {
    NewToken {
        owner: owner.to_string(),
        groups: None,
        display_name: format!("{owner}'s token"),
        scopes: vec!["vso.code".to_string()],
        all_orgs: false,
        orgs: vec![org.to_string()],
        valid_to: now + days * DAY,
        org: org.to_string(),
    }
}

fn creation_is_decided_by_the_policies_and_a_denied_one_stores_nothing(backend: Backend) {
    let f = Fixture::new(backend);
    let denied = f
        .tokens
        .create(&f.acme, new_token("alice", "fabrikam", 10), NOW)
        .unwrap_err();
    let LifecycleError::Denied(decision) = denied else {
        panic!("expected a denial, got {denied:?}");
    };
    assert_eq!(
        decision.violations[0].code,
        "disablePatCreationPolicyViolation"
    );
    let listed = f.tokens.list("acme", &all_tokens(), NOW).unwrap();
    assert!(listed.items.is_empty());
    let audit = f
        .tokens
        .audit_log(
            "acme",
            &AuditQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].event, AuditEvent::PatCreate);
    assert_eq!(serde_json::to_value(audit[0].outcome).unwrap(), "denied");

    // With `clamp`, a too-long lifetime is shortened to the maximum, and stored so.
    let issued = f
        .tokens
        .create(&f.acme, new_token("Alice@Acme.com", "contoso", 200), NOW)
        .unwrap();
    assert_eq!(issued.token.valid_to, NOW + 90 * DAY);
    assert_eq!(issued.token.owner, "alice@acme.com");
    let stored = f.tokens.get("acme", &issued.token.id).unwrap().unwrap();
    assert_eq!(stored, issued.token);

    // Bad input is named by its field.
    let mut bad = new_token("alice", "contoso", 10);
    bad.scopes.clear();
    match f.tokens.create(&f.acme, bad, NOW) {
        Err(LifecycleError::Invalid { field, .. }) => assert_eq!(field, "scope"),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

fn listings_filter_and_page_through_hundreds_of_tokens(backend: Backend) {
    let f = Fixture::new(backend);
    let mut ids = Vec::new();
    for i in 0..250 {
        let owner = if i % 5 == 0 { "bob" } else { "carol" };
        let mut new = new_token(owner, "contoso", 1 + i % 60);
        // Names that repeat, in mixed case, so that sorting by name has ties to break.
        let word = if i % 2 == 0 { "deploy" } else { "Deploy" };
        new.display_name = format!("{word} {:02}", (i * 37) % 41);
        let token = f.tokens.create(&f.acme, new, NOW + i).unwrap().token;
        ids.push(token.id);
    }
    for id in ids.iter().take(10) {
        f.tokens
            .revoke("acme", id, "admin", "test", NOW + 300)
            .unwrap();
    }
    let later = NOW + 30 * DAY;
    let listing = |query: TokenQuery| {
        let mut seen: Vec<TokenRecord> = Vec::new();
        let mut continuation = None;
        loop {
            let page = f
                .tokens
                .list(
                    "acme",
                    &TokenQuery {
                        continuation,
                        ..query.clone()
                    },
                    later,
                )
                .unwrap();
            assert!(page.items.len() <= query.limit);
            seen.extend(page.items);
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        seen
    };
    let count = |filter, owner: Option<&str>| -> Vec<String> {
        listing(TokenQuery {
            filter,
            owner: owner.map(str::to_string),
            ..all_tokens()
        })
        .into_iter()
        .map(|t| t.id)
        .collect()
    };
    let all = count(TokenFilter::All, None);
    assert_eq!(all, ids, "every token once, oldest first");
    let expected_expired = (10..250i64).filter(|i| i % 60 < 30).count();
    assert_eq!(count(TokenFilter::Revoked, None).len(), 10);
    assert_eq!(count(TokenFilter::Expired, None).len(), expected_expired);
    assert_eq!(
        count(TokenFilter::Active, None).len(),
        240 - expected_expired
    );
    assert_eq!(count(TokenFilter::All, Some("BOB")).len(), 50);

    // Azure DevOps' sort options, in pages of 7 so that the continuation carries the sort key:
    // every token exactly once, in the order asked for.
    let sorted = |order, ascending| {
        listing(TokenQuery {
            order,
            ascending,
            limit: 7,
            ..all_tokens()
        })
    };
    let key_of = |token: &TokenRecord, order| match order {
        TokenOrder::DisplayDate => (String::new(), 0),
        TokenOrder::DisplayName => (token.display_name.to_lowercase(), 0),
        TokenOrder::Status => (
            String::new(),
            match token.status(later) {
                TokenStatus::Active => 0,
                TokenStatus::Expired => 1,
                TokenStatus::Revoked => 2,
            },
        ),
    };
    for order in [
        TokenOrder::DisplayDate,
        TokenOrder::DisplayName,
        TokenOrder::Status,
    ] {
        for ascending in [true, false] {
            let listed = sorted(order, ascending);
            let mut expected = listed.clone();
            expected.sort_by(|a, b| {
                let ordering = key_of(a, order)
                    .cmp(&key_of(b, order))
                    .then(a.created_at.cmp(&b.created_at))
                    .then(a.id.cmp(&b.id));
                if ascending {
                    ordering
                } else {
                    ordering.reverse()
                }
            });
            assert_eq!(listed.len(), 250, "{order:?} {ascending}");
            assert_eq!(listed, expected, "{order:?} ascending: {ascending}");
        }
    }
    let by_status = sorted(TokenOrder::Status, true);
    assert_eq!(by_status[0].status(later), TokenStatus::Active);
    assert_eq!(by_status[249].status(later), TokenStatus::Revoked);

    // A continuation belongs to its listing: garbage, or one from another order, is refused.
    let first_page = f
        .tokens
        .list(
            "acme",
            &TokenQuery {
                order: TokenOrder::DisplayName,
                limit: 10,
                ..all_tokens()
            },
            later,
        )
        .unwrap();
    for continuation in [Some("garbage".to_string()), first_page.continuation] {
        assert!(
            f.tokens
                .list(
                    "acme",
                    &TokenQuery {
                        continuation,
                        limit: 10,
                        ..all_tokens()
                    },
                    later
                )
                .is_err()
        );
    }
    assert!(
        f.tokens
            .list("beta", &all_tokens(), later)
            .unwrap()
            .items
            .is_empty()
    );
}

/// Every token, oldest first.
fn all_tokens() -> TokenQuery {
    TokenQuery {
        filter: TokenFilter::All,
        ..TokenQuery::default()
    }
}

fn authentication_checks_format_store_status_and_use_policies(backend: Backend) {
    let f = Fixture::new(backend);
    let issued = f
        .tokens
        .create(&f.acme, new_token("dave", "contoso", 30), NOW)
        .unwrap();
    let secret = issued.secret.expose().to_string();
    let client = || Client {
        user_agent: Some("azure-pipelines-agent/3.0".to_string()),
        address: Some("10.0.0.7".to_string()),
    };
    let ok = f
        .tokens
        .authenticate(&f.acme, &secret, "contoso", client(), NOW + 10)
        .unwrap();
    assert_eq!(ok.token.owner, "dave");

    // Not a token, a typo, a token patrol does not know, another tenant's token.
    let typo = format!(
        "{}{}",
        &secret[..20],
        if &secret[20..21] == "a" { "b" } else { "a" }
    ) + &secret[21..];
    for (presented, tenant) in [("hello", &f.acme), (typo.as_str(), &f.acme)] {
        assert!(matches!(
            f.tokens
                .authenticate(tenant, presented, "contoso", client(), NOW),
            Err(AuthError::Malformed(_))
        ));
    }
    let stranger = Secret::generate().unwrap();
    assert!(matches!(
        f.tokens
            .authenticate(&f.acme, stranger.expose(), "contoso", client(), NOW),
        Err(AuthError::Unknown)
    ));
    assert!(matches!(
        f.tokens
            .authenticate(&f.beta, &secret, "contoso", client(), NOW),
        Err(AuthError::Unknown)
    ));
    // Expired.
    assert!(matches!(
        f.tokens
            .authenticate(&f.acme, &secret, "contoso", client(), NOW + 31 * DAY),
        Err(AuthError::Expired(_))
    ));

    // Last use is recorded in batches: not before a flush, then with the client.
    assert_eq!(
        f.tokens
            .get("acme", &issued.token.id)
            .unwrap()
            .unwrap()
            .last_used_at,
        None
    );
    f.tokens.flush_uses().unwrap();
    let used = f.tokens.get("acme", &issued.token.id).unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(NOW + 10));
    assert_eq!(
        used.last_user_agent.as_deref(),
        Some("azure-pipelines-agent/3.0")
    );
    assert_eq!(used.last_address.as_deref(), Some("10.0.0.7"));

    // Regenerated: the old secret is dead, the new one works, today's policies apply.
    let regenerated = f
        .tokens
        .regenerate(
            &f.acme,
            &issued.token.id,
            Some(NOW + 400 * DAY),
            "contoso",
            NOW + 20,
        )
        .unwrap_err();
    assert!(matches!(
        regenerated,
        LifecycleError::Invalid { ref field, .. } if field == "validTo"
    ));
    let regenerated = f
        .tokens
        .regenerate(
            &f.acme,
            &issued.token.id,
            Some(NOW + 120 * DAY),
            "contoso",
            NOW + 20,
        )
        .unwrap();
    assert_eq!(regenerated.token.valid_to, NOW + 20 + 90 * DAY, "clamped");
    assert!(matches!(
        f.tokens
            .authenticate(&f.acme, &secret, "contoso", client(), NOW + 30),
        Err(AuthError::Unknown)
    ));
    f.tokens
        .authenticate(
            &f.acme,
            regenerated.secret.expose(),
            "contoso",
            client(),
            NOW + 30,
        )
        .unwrap();

    // Revoked.
    f.tokens
        .revoke(
            "acme",
            &issued.token.id,
            "Admin",
            "left the company",
            NOW + 40,
        )
        .unwrap();
    assert!(matches!(
        f.tokens.authenticate(
            &f.acme,
            regenerated.secret.expose(),
            "contoso",
            client(),
            NOW + 50
        ),
        Err(AuthError::Revoked)
    ));
    assert!(matches!(
        f.tokens
            .regenerate(&f.acme, &issued.token.id, None, "contoso", NOW + 60),
        Err(LifecycleError::NotFound(_))
    ));
}

fn global_tokens_are_refused_in_restricted_orgs_until_the_owner_joins_an_allowlisted_group(
    backend: Backend,
) {
    let f = Fixture::new(backend);
    let store = f.tokens.store();
    // A global token needs the `pat-admins` group, which the directory provides.
    let mut global = new_token("erin", "contoso", 30);
    global.all_orgs = true;
    assert!(matches!(
        f.tokens.create(&f.acme, global.clone(), NOW),
        Err(LifecycleError::Denied(_))
    ));
    store
        .set_group("acme", "pat-admins", &["erin".to_string()])
        .unwrap();
    let issued = f.tokens.create(&f.acme, global, NOW).unwrap();
    let secret = issued.secret.expose();
    f.tokens
        .authenticate(&f.acme, secret, "contoso", Client::default(), NOW)
        .unwrap();
    match f
        .tokens
        .authenticate(&f.acme, secret, "fabrikam", Client::default(), NOW)
    {
        Err(AuthError::Denied(denied)) => {
            assert_eq!(denied.decision.violations[0].code, "globalPatUsageDisabled");
            assert_eq!(denied.request.org, "fabrikam");
        }
        other => panic!("expected globalPatUsageDisabled, got {other:?}"),
    }
    // A membership change applies to the very next decision, both ways.
    store
        .set_group("acme", "release-engineers", &["erin".to_string()])
        .unwrap();
    f.tokens
        .authenticate(&f.acme, secret, "fabrikam", Client::default(), NOW)
        .unwrap();
    assert!(store.delete_group("acme", "release-engineers").unwrap());
    assert!(
        f.tokens
            .authenticate(&f.acme, secret, "fabrikam", Client::default(), NOW)
            .is_err()
    );
    assert_eq!(
        store.groups("acme").unwrap(),
        vec![("pat-admins".to_string(), vec!["erin".to_string()])]
    );
}

fn leaked_tokens_are_revoked_or_their_owners_notified_as_the_policy_says(backend: Backend) {
    let f = Fixture::new(backend);
    let source = LeakSource {
        url: Some("https://github.com/x/y/blob/main/.env".to_string()),
        reporter: "test".to_string(),
    };
    let revoked = f
        .tokens
        .create(&f.acme, new_token("frank", "contoso", 30), NOW)
        .unwrap();
    f.tokens
        .store()
        .set_group("acme", "leak-exempt", &["grace".to_string()])
        .unwrap();
    let exempt = f
        .tokens
        .create(&f.acme, new_token("grace", "contoso", 30), NOW)
        .unwrap();
    let beta = f
        .tokens
        .create(&f.beta, new_token("heidi", "contoso", 30), NOW)
        .unwrap();
    let unknown = Secret::generate().unwrap();
    let found = [
        revoked.secret.clone(),
        exempt.secret.clone(),
        beta.secret.clone(),
        unknown,
    ];
    let reports = f
        .tokens
        .leaks(&found, None, &f.tenant_of(), &source, NOW + 5)
        .unwrap();
    let outcomes: Vec<_> = reports.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [
            LeakOutcome::Revoked,
            LeakOutcome::Notified,
            LeakOutcome::Notified,
            LeakOutcome::Unknown
        ]
    );
    assert!(matches!(
        f.tokens.authenticate(
            &f.acme,
            revoked.secret.expose(),
            "contoso",
            Client::default(),
            NOW + 6
        ),
        Err(AuthError::Revoked)
    ));
    f.tokens
        .authenticate(
            &f.acme,
            exempt.secret.expose(),
            "contoso",
            Client::default(),
            NOW + 6,
        )
        .unwrap();
    f.tokens
        .authenticate(
            &f.beta,
            beta.secret.expose(),
            "contoso",
            Client::default(),
            NOW + 6,
        )
        .unwrap();
    // Reported again: already revoked. Limited to one tenant, another's token is unknown.
    let again = f
        .tokens
        .leaks(&found[..1], None, &f.tenant_of(), &source, NOW + 7)
        .unwrap();
    assert_eq!(again[0].outcome, LeakOutcome::AlreadyRevoked);
    let limited = f
        .tokens
        .leaks(&found[2..3], Some("acme"), &f.tenant_of(), &source, NOW + 7)
        .unwrap();
    assert_eq!(limited[0].outcome, LeakOutcome::Unknown);

    let events: Vec<_> = f
        .tokens
        .audit_log(
            "acme",
            &AuditQuery {
                since: Some(NOW + 5),
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == AuditEvent::PatSystemRevoke)
            .count(),
        1
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == AuditEvent::PatPublicDiscovery)
            .count(),
        3
    );
    let due = f
        .tokens
        .store()
        .claim_notifications(NOW + 100, NOW + 100, 100)
        .unwrap();
    let kinds: Vec<(String, &str)> = due
        .iter()
        .map(|n| {
            (
                n.notification.owner.clone().unwrap(),
                n.notification.event.as_str(),
            )
        })
        .collect();
    for expected in [
        ("frank".to_string(), "found_in_public"),
        ("frank".to_string(), "revoked_by_system"),
        ("grace".to_string(), "found_in_public"),
        ("heidi".to_string(), "found_in_public"),
    ] {
        assert!(
            kinds.contains(&(expected.0.clone(), expected.1)),
            "{expected:?} in {kinds:?}"
        );
    }
}

fn notifications_reach_the_webhook_with_retries_and_expiry_notices_go_out_once(backend: Backend) {
    let f = Fixture::new(backend);
    let hook = Webhook::start(1);
    let notifier = Notifier::new(
        Arc::clone(f.tokens.store()),
        NotifierConfig {
            webhook: Some(hook.url().to_string()),
            expiry_notice_days: 7,
            ..NotifierConfig::default()
        },
    );
    let now = patrol::timestamp::now();
    let soon = f
        .tokens
        .create(&f.acme, new_token_at("ivan", "contoso", now, 3), now)
        .unwrap();
    f.tokens
        .create(&f.acme, new_token_at("judy", "contoso", now, 30), now)
        .unwrap();
    // Round 1: the first delivery fails, and is retried after a backoff, not at once.
    let delivered = notifier.run_once(now).unwrap();
    assert_eq!(
        delivered, 2,
        "three queued (two created, one expiring soon), one failed"
    );
    let store = f.tokens.store();
    assert_eq!(store.claim_notifications(now, now, 10).unwrap().len(), 0);
    // (A claim that lasts until `now + 1` leaves it due at `now + 1` for the notifier.)
    let retry = store.claim_notifications(now + 1, now + 1, 10).unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 1);
    assert_eq!(notifier.run_once(now + 1).unwrap(), 1);
    // Round 3: nothing new; the expiry notice is not repeated.
    assert_eq!(notifier.run_once(now + 2).unwrap(), 0);
    let received = received(&hook);
    let events: Vec<(&str, &str)> = received
        .iter()
        .map(|n| (n["event"].as_str().unwrap(), n["owner"].as_str().unwrap()))
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.contains(&("expiring_soon", "ivan")));
    assert!(events.contains(&("created", "ivan")));
    assert!(events.contains(&("created", "judy")));
    let notice = received
        .iter()
        .find(|n| n["event"] == "expiring_soon")
        .unwrap();
    assert_eq!(notice["token"]["id"], soon.token.id.as_str());
}

fn revocation_acknowledged_is_never_followed_by_a_successful_authentication(backend: Backend) {
    let f = Arc::new(Fixture::new(backend));
    for round in 0..5 {
        let issued = f
            .tokens
            .create(&f.acme, new_token("kim", "contoso", 30), NOW)
            .unwrap();
        let secret = issued.secret.expose().to_string();
        let acknowledged = Arc::new(AtomicBool::new(false));
        let after = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (f, secret) = (Arc::clone(&f), secret.clone());
                let (acknowledged, after) = (Arc::clone(&acknowledged), Arc::clone(&after));
                // Until each thread has tried a few times after the acknowledgement, however
                // the machine schedules it (bounded, in case it never sees it).
                thread::spawn(move || {
                    let mut tries_after = 0;
                    for _ in 0..1_000_000 {
                        if tries_after == 20 {
                            break;
                        }
                        let revoked_before = acknowledged.load(Ordering::SeqCst);
                        let result = f.tokens.authenticate(
                            &f.acme,
                            &secret,
                            "contoso",
                            Client::default(),
                            NOW,
                        );
                        if revoked_before {
                            assert!(result.is_err(), "authenticated after the revocation");
                            after.fetch_add(1, Ordering::Relaxed);
                            tries_after += 1;
                        }
                    }
                })
            })
            .collect();
        thread::sleep(std::time::Duration::from_millis(5 + round));
        f.tokens
            .revoke("acme", &issued.token.id, "admin", "test", NOW)
            .unwrap();
        acknowledged.store(true, Ordering::SeqCst);
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(
            after.load(Ordering::Relaxed) > 0,
            "some attempts came after the revocation"
        );
    }
}

fn policy_changes_are_audited_per_policy(backend: Backend) {
    let f = Fixture::new(backend);
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let changed = tenant(&engine, &ACME.replace("max_days = 90", "max_days = 30"));
    let count = f
        .tokens
        .policies_changed("acme", "root", Some(&f.acme), Some(&changed), NOW)
        .unwrap();
    assert_eq!(count, 1);
    let entry = &f
        .tokens
        .audit_log(
            "acme",
            &AuditQuery {
                event: Some(AuditEvent::PolicyValueUpdated),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap()[0];
    assert_eq!(entry.actor, "root");
    assert_eq!(entry.details["policy"], "max_pat_lifespan");
    assert_eq!(entry.details["previous"]["settings"]["max_days"], 90);
    assert_eq!(entry.details["value"]["settings"]["max_days"], 30);
    assert_eq!(
        f.tokens
            .policies_changed("acme", "root", Some(&f.acme), Some(&f.acme), NOW)
            .unwrap(),
        0
    );
}

fn the_store_survives_reopening_refuses_a_newer_schema_and_never_holds_a_secret(backend: Backend) {
    let f = Fixture::new(backend);
    let issued = f
        .tokens
        .create(&f.acme, new_token("liam", "contoso", 30), NOW)
        .unwrap();
    let secret = issued.secret.expose().to_string();
    f.tokens
        .leaks(
            std::slice::from_ref(&issued.secret),
            None,
            &f.tenant_of(),
            &LeakSource::default(),
            NOW + 1,
        )
        .unwrap();
    let reopened = f.reopen();
    let stored = reopened.get("acme", &issued.token.id).unwrap().unwrap();
    assert!(stored.revoked_at.is_some());
    drop(reopened);
    match f.backend {
        Backend::Sqlite => {
            // Neither the database nor its write-ahead log holds the secret, or its body.
            for entry in std::fs::read_dir(f.dir.path()).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(&secret[4..40]),
                    "a secret was written to disk"
                );
            }
            // A database from a newer patrol is refused, not damaged.
            let path = f.dir.path().join("newer.db");
            let connection = rusqlite::Connection::open(&path).unwrap();
            connection
                .execute_batch("PRAGMA user_version = 99")
                .unwrap();
            drop(connection);
            let error = SqliteStore::open(&path).err().unwrap().to_string();
            assert!(error.contains("schema version 99"), "{error}");
        }
        Backend::Postgres => {
            let url = f.url.as_deref().unwrap();
            // No table holds the secret, or its body: read every row of every table back.
            let everything = patrol_test_support::postgres::Postgres::shared().psql(
                url,
                "SELECT string_agg(t::text, ' ') FROM (
                   SELECT row_to_json(x)::text AS t FROM tokens x
                   UNION ALL SELECT row_to_json(x)::text FROM audit x
                   UNION ALL SELECT row_to_json(x)::text FROM outbox x
                   UNION ALL SELECT row_to_json(x)::text FROM changes x) rows",
            );
            assert!(everything.contains(&issued.token.id), "{everything}");
            assert!(
                !everything.contains(&secret[4..40]),
                "a secret was written to the database"
            );
            // A database from a newer patrol is refused, not damaged.
            patrol_test_support::postgres::Postgres::shared()
                .psql(url, "INSERT INTO schema_migrations (version) VALUES (99)");
            let error = PgStore::connect(url).err().unwrap().to_string();
            assert!(error.contains("schema version 99"), "{error}");
        }
    }
}

fn the_change_log_records_revocations_regenerations_groups_and_retirements_in_order(
    backend: Backend,
) {
    let f = Fixture::new(backend);
    let store = f.tokens.store();
    let start = store.last_change().unwrap();
    let kept = f
        .tokens
        .create(&f.acme, new_token("mia", "contoso", 30), NOW)
        .unwrap();
    let revoked = f
        .tokens
        .create(&f.acme, new_token("noah", "contoso", 30), NOW)
        .unwrap();
    // Creating a token is not a change anyone must forget anything for.
    assert_eq!(store.last_change().unwrap(), start);
    f.tokens
        .regenerate(
            &f.acme,
            &kept.token.id,
            Some(NOW + 10 * DAY),
            "contoso",
            NOW,
        )
        .unwrap();
    f.tokens
        .revoke("acme", &revoked.token.id, "admin", "test", NOW)
        .unwrap();
    // Revoking again changes nothing, and logs nothing.
    f.tokens
        .revoke("acme", &revoked.token.id, "admin", "test", NOW)
        .unwrap();
    store
        .set_group("acme", "pat-admins", &["mia".to_string()])
        .unwrap();
    assert!(store.delete_group("acme", "pat-admins").unwrap());
    assert!(!store.delete_group("acme", "pat-admins").unwrap());
    f.tokens.retire_tenant("beta", "admin", NOW).unwrap();
    let changes = store.changes_since(start, 100).unwrap();
    let seen: Vec<(&str, ChangeKind, &str)> = changes
        .iter()
        .map(|c| (c.tenant.as_str(), c.kind, c.key.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("acme", ChangeKind::Token, kept.token.id.as_str()),
            ("acme", ChangeKind::Token, revoked.token.id.as_str()),
            ("acme", ChangeKind::Group, "pat-admins"),
            ("acme", ChangeKind::Group, "pat-admins"),
            ("beta", ChangeKind::Tenant, ""),
        ]
    );
    assert!(changes.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(store.last_change().unwrap(), changes.last().unwrap().seq);
    // Read in pages, from any point.
    let second = store.changes_since(changes[0].seq, 2).unwrap();
    assert_eq!(second, changes[1..3]);
    // Another connection (another process, another replica) reads the same log.
    assert_eq!(f.open_store().changes_since(start, 100).unwrap(), changes);
}

fn workers_sharing_the_store_deliver_each_notification_once(backend: Backend) {
    let f = Fixture::new(backend);
    let hook = Webhook::start(0);
    let now = patrol::timestamp::now();
    for i in 0..30 {
        f.tokens
            .create(
                &f.acme,
                new_token_at(&format!("user{i}"), "contoso", now, 30),
                now,
            )
            .unwrap();
    }
    // Three workers, each with a store of its own, as three replicas run them.
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let notifier = Notifier::new(
                f.open_store(),
                NotifierConfig {
                    webhook: Some(hook.url().to_string()),
                    expiry_notice_days: 7,
                    ..NotifierConfig::default()
                },
            );
            thread::spawn(move || {
                let mut delivered = 0;
                for _ in 0..5 {
                    delivered += notifier.run_once(now).unwrap();
                }
                delivered
            })
        })
        .collect();
    let delivered: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let received = received(&hook);
    let mut owners: Vec<&str> = received
        .iter()
        .map(|n| n["owner"].as_str().unwrap())
        .collect();
    owners.sort_unstable();
    let before = owners.len();
    owners.dedup();
    assert_eq!(before, 30, "each creation delivered once: {owners:?}");
    assert_eq!(owners.len(), 30);
    assert_eq!(delivered, 30);
}

fn retention_prunes_old_changes_and_delivered_notifications_and_says_how_far(backend: Backend) {
    let f = Fixture::new(backend);
    let store = f.tokens.store();
    assert_eq!(store.pruned_upto().unwrap(), 0);
    let now = patrol::timestamp::now();
    let mut ids = Vec::new();
    for user in ["oli", "pam", "quin"] {
        let issued = f
            .tokens
            .create(&f.acme, new_token_at(user, "contoso", now, 30), now)
            .unwrap();
        f.tokens
            .revoke("acme", &issued.token.id, "admin", "test", now)
            .unwrap();
        ids.push(issued.token.id);
    }
    // Deliver everything queued (three creations, three revocations).
    let hook = Webhook::start(0);
    let notifier = Notifier::new(
        Arc::clone(store),
        NotifierConfig {
            webhook: Some(hook.url().to_string()),
            ..NotifierConfig::default()
        },
    );
    assert_eq!(notifier.run_once(now).unwrap(), 6);
    let changes = store.changes_since(0, 100).unwrap();
    assert_eq!(changes.len(), 3);
    // Nothing is old yet.
    assert_eq!(
        store.prune(now - 86_400, now - 86_400).unwrap(),
        Some(patrol_store::tokens::Pruned::default())
    );
    // Everything is old: every change but the latest goes, and every delivered notification.
    let pruned = store.prune(now + 1, now + 1).unwrap().unwrap();
    assert_eq!(pruned.changes, 2);
    assert_eq!(pruned.notifications, 6);
    assert_eq!(store.pruned_upto().unwrap(), changes[1].seq);
    assert_eq!(store.changes_since(0, 100).unwrap(), changes[2..]);
    assert_eq!(store.last_change().unwrap(), changes[2].seq);
    // The audit log is kept whole.
    let audit = f
        .tokens
        .audit_log(
            "acme",
            &AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(audit.len(), 6);
    // A notification not yet delivered is never pruned.
    f.tokens
        .create(&f.acme, new_token_at("rae", "contoso", now, 30), now)
        .unwrap();
    assert_eq!(
        store
            .prune(now + 10, now + 10)
            .unwrap()
            .unwrap()
            .notifications,
        0
    );
    assert_eq!(store.claim_notifications(now, now, 10).unwrap().len(), 1);
}

fn credentials_and_scim_writes_are_kept_and_a_deprovisioning_revokes_in_the_same_write(
    backend: Backend,
) {
    let f = Fixture::new(backend);
    let store = f.tokens.store();
    // A credential: shown once, found by its secret, rotated (the old secret stops at once),
    // revoked; each change audited.
    let (credential, secret) = f
        .tokens
        .create_credential("acme", "entra", Role::Provisioner, "operator", NOW)
        .unwrap();
    assert!(secret.expose().starts_with(CREDENTIAL_PREFIX));
    let found = f
        .tokens
        .authenticate_credential(secret.expose(), "GET /scim", NOW)
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.as_str(), found.role),
        (credential.id.as_str(), Role::Provisioner)
    );
    assert!(
        f.tokens
            .authenticate_credential(secret.expose(), "GET /scim", NOW)
            .unwrap()
            .is_some()
    );
    let (_, rotated) = f
        .tokens
        .rotate_credential(&credential.id, "operator", NOW + 1)
        .unwrap()
        .unwrap();
    assert!(
        f.tokens
            .authenticate_credential(secret.expose(), "x", NOW)
            .unwrap()
            .is_none()
    );
    assert!(
        f.tokens
            .authenticate_credential(rotated.expose(), "x", NOW)
            .unwrap()
            .is_some()
    );
    f.tokens
        .revoke_credential(&credential.id, "operator", NOW + 2)
        .unwrap()
        .unwrap();
    assert!(
        f.tokens
            .authenticate_credential(rotated.expose(), "x", NOW)
            .unwrap()
            .is_none()
    );
    assert!(
        f.tokens
            .rotate_credential(&credential.id, "operator", NOW + 3)
            .unwrap()
            .is_none()
    );
    let events: Vec<AuditEvent> = f
        .tokens
        .audit_log(
            "acme",
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .unwrap()
        .into_iter()
        .map(|entry| entry.event)
        .collect();
    for event in [
        AuditEvent::CredentialCreate,
        AuditEvent::CredentialUse,
        AuditEvent::CredentialRotate,
        AuditEvent::CredentialRevoke,
    ] {
        assert!(events.contains(&event), "{event} in {events:?}");
    }
    // Used three times within a minute: one use recorded.
    assert_eq!(
        events
            .iter()
            .filter(|event| **event == AuditEvent::CredentialUse)
            .count(),
        1,
        "{events:?}"
    );
    assert!(store.credentials(Some("beta")).unwrap().is_empty());

    // A SCIM user and a group holding them: the directory follows.
    let issued = f
        .tokens
        .create(&f.acme, new_token("erin", "contoso", 30), NOW)
        .unwrap();
    let user = |active: bool, version: i64| ScimRecord {
        tenant: "acme".into(),
        kind: ScimKind::User,
        id: "u1".into(),
        name: "Erin".into(),
        external_id: Some("erin".into()),
        active,
        document: serde_json::json!({ "userName": "Erin" }),
        version,
        created_at: NOW,
        modified_at: NOW,
    };
    let group = ScimRecord {
        kind: ScimKind::Group,
        id: "g1".into(),
        name: "pat-admins".into(),
        external_id: None,
        document: serde_json::json!({ "displayName": "pat-admins", "members": [{ "value": "u1" }] }),
        ..user(true, 1)
    };
    let write = ScimWrite {
        tenant: "acme".into(),
        at: NOW,
        put: vec![(user(true, 1), None), (group.clone(), None)],
        groups: vec![("pat-admins".into(), Some(vec!["erin".into()]))],
        reprovision: vec!["erin".into()],
        ..ScimWrite::default()
    };
    assert_eq!(
        f.tokens.apply_scim(&write, "credential:entra").unwrap(),
        Ok(0)
    );
    assert_eq!(
        store.groups_of("acme", "erin").unwrap(),
        vec!["pat-admins".to_string()]
    );
    assert_eq!(
        store
            .scim_named("acme", ScimKind::User, "ERIN")
            .unwrap()
            .unwrap()
            .id,
        "u1"
    );
    assert_eq!(
        store.scim_list("acme", ScimKind::Group).unwrap(),
        vec![group]
    );
    assert!(
        store
            .scim_get("beta", ScimKind::User, "u1")
            .unwrap()
            .is_none()
    );
    // The group is read-only elsewhere.
    assert!(matches!(
        f.tokens.set_group("acme", "pat-admins", &[]),
        Err(LifecycleError::ManagedByScim(_))
    ));
    // A write from a stale read, or taking a name in use, changes nothing.
    let stale = ScimWrite {
        put: vec![(user(false, 2), Some(7))],
        ..write.clone()
    };
    assert_eq!(
        f.tokens.apply_scim(&stale, "x").unwrap(),
        Err(ScimConflict::Changed)
    );
    // So does one worked out from a group that changed since (or a user who appeared).
    for read in [
        (ScimKind::Group, "g1".to_string(), Some(0)),
        (ScimKind::User, "u1".to_string(), None),
    ] {
        let stale_read = ScimWrite {
            tenant: "acme".into(),
            at: NOW,
            read: vec![read],
            deprovision: vec!["erin".into()],
            ..ScimWrite::default()
        };
        assert_eq!(
            f.tokens.apply_scim(&stale_read, "x").unwrap(),
            Err(ScimConflict::Changed)
        );
    }
    let taken = ScimWrite {
        put: vec![(
            ScimRecord {
                id: "u2".into(),
                ..user(true, 1)
            },
            None,
        )],
        ..ScimWrite::default()
    };
    let taken = ScimWrite {
        tenant: "acme".into(),
        ..taken
    };
    assert_eq!(
        f.tokens.apply_scim(&taken, "x").unwrap(),
        Err(ScimConflict::NameTaken("Erin".into()))
    );
    assert!(
        f.tokens
            .get("acme", &issued.token.id)
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    // Deactivated: every token revoked in the same write, audited with the SCIM client as
    // actor, and no new one issued.
    let before = store.last_change().unwrap();
    let deactivate = ScimWrite {
        tenant: "acme".into(),
        at: NOW + 10,
        put: vec![(user(false, 2), Some(1))],
        groups: vec![("pat-admins".into(), Some(vec![]))],
        deprovision: vec!["erin".into()],
        ..ScimWrite::default()
    };
    assert_eq!(
        f.tokens
            .apply_scim(&deactivate, "credential:entra")
            .unwrap(),
        Ok(1)
    );
    let revoked = f.tokens.get("acme", &issued.token.id).unwrap().unwrap();
    assert_eq!(
        revoked.revocation_reason.as_deref(),
        Some(USER_DEPROVISIONED)
    );
    let entry = f
        .tokens
        .audit_log(
            "acme",
            &AuditQuery {
                limit: 1,
                event: Some(AuditEvent::PatRevoke),
                ..AuditQuery::default()
            },
        )
        .unwrap()
        .remove(0);
    assert_eq!(entry.actor, "credential:entra");
    assert_eq!(entry.details["reason"], USER_DEPROVISIONED);
    assert!(matches!(
        f.tokens
            .create(&f.acme, new_token("erin", "contoso", 30), NOW + 11),
        Err(LifecycleError::Deprovisioned(_))
    ));
    assert!(store.groups_of("acme", "erin").unwrap().is_empty());
    let kinds: Vec<ChangeKind> = store
        .changes_since(before, 100)
        .unwrap()
        .into_iter()
        .map(|change| change.kind)
        .collect();
    assert!(
        kinds.contains(&ChangeKind::Token) && kinds.contains(&ChangeKind::Group),
        "{kinds:?}"
    );
    // Provisioned again: tokens may be issued; deleting the tenant deletes all of it.
    let reactivate = ScimWrite {
        tenant: "acme".into(),
        at: NOW + 20,
        put: vec![(user(true, 3), Some(2))],
        reprovision: vec!["erin".into()],
        ..ScimWrite::default()
    };
    assert_eq!(f.tokens.apply_scim(&reactivate, "x").unwrap(), Ok(0));
    f.tokens
        .create(&f.acme, new_token("erin", "contoso", 30), NOW + 21)
        .unwrap();
    f.tokens
        .retire_tenant("acme", "operator", NOW + 30)
        .unwrap();
    assert!(store.scim_list("acme", ScimKind::User).unwrap().is_empty());
    assert!(store.credentials(Some("acme")).unwrap().is_empty());
}

/// Each test, once per backend.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $test() {
                super::$test(super::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            #[cfg_attr(not(patrol_has_postgres), ignore = "needs PostgreSQL: apt-get install postgresql")]
            fn $test() {
                super::$test(super::Backend::Postgres)
            })*
        }
    };
}

conformance!(
    creation_is_decided_by_the_policies_and_a_denied_one_stores_nothing,
    listings_filter_and_page_through_hundreds_of_tokens,
    authentication_checks_format_store_status_and_use_policies,
    global_tokens_are_refused_in_restricted_orgs_until_the_owner_joins_an_allowlisted_group,
    leaked_tokens_are_revoked_or_their_owners_notified_as_the_policy_says,
    notifications_reach_the_webhook_with_retries_and_expiry_notices_go_out_once,
    revocation_acknowledged_is_never_followed_by_a_successful_authentication,
    policy_changes_are_audited_per_policy,
    the_store_survives_reopening_refuses_a_newer_schema_and_never_holds_a_secret,
    the_change_log_records_revocations_regenerations_groups_and_retirements_in_order,
    workers_sharing_the_store_deliver_each_notification_once,
    retention_prunes_old_changes_and_delivered_notifications_and_says_how_far,
    credentials_and_scim_writes_are_kept_and_a_deprovisioning_revokes_in_the_same_write,
);
