//! The console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven by Selenium from PyPI, against the real `patrol serve` over a
//! real socket. tests/console/e2e.py signs in, toggles a policy and reads the dry run, saves a
//! change and finds it in the audit log, revokes a token and reads its history, opens every
//! report and the audit log, and signs in as an auditor and as a provisioner; axe-core checks
//! every page for WCAG 2.1 A and AA violations, offline. Screenshots of each page are saved in
//! `<target>/tmp/console-screenshots/` for a person to look at.
//!
//! It needs `PATROL_CONSOLE_PYTHON` (a Python with tests/console/requirements.txt), axe-core in
//! tests/console/node_modules (`npm ci --prefix tests/console`) and Chromium with its driver:
//! `.ci/run` installs all of them. Without them `cargo test` lists this test as ignored.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::{self, http};

const ADMIN: &str = "console-admin-token-0123456789";

#[test]
#[cfg_attr(
    not(patrol_has_browser),
    ignore = "needs PATROL_CONSOLE_PYTHON (Selenium), chromium, chromedriver and axe-core: see .ci/run"
)]
fn the_console_works_in_a_real_browser() {
    let _machine = crate::machine::shared();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .arg("init")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // The example tenant, with a custom component and a CEL rule besides the seed policies.
    let tenant_file = data.join("tenants/contoso.toml");
    let mut config = std::fs::read_to_string(&tenant_file).unwrap();
    config.push_str(&format!(
        "\n[[custom_policies]]\nname = \"write-scopes-short-lived\"\ncomponent = \"{}\"\n\
         settings = {{ max_days = 30 }}\n\n[[rules]]\nname = \"contractors-no-manage\"\n\
         expression = '!(user.groups.exists(g, g == \"contractors\") && \
         token.scopes.exists(s, s.endsWith(\"_manage\")))'\ncode = \"contractorManageScope\"\n\
         message = \"contractors may not hold manage scopes\"\n",
        Path::new(patrol_test_support::COMPONENT_DIR)
            .join("write_scopes_short_lived.wasm")
            .display()
    ));
    std::fs::write(&tenant_file, &config).unwrap();
    let (child, address) = common::spawn_serve(
        Command::new(env!("CARGO_BIN_EXE_patrol"))
            .args(["serve", "--data-dir"])
            .arg(&data)
            .env("PATROL_ADMIN_TOKEN", ADMIN)
            .stderr(Stdio::null()),
    );
    let _server = crate::gateway_nginx::Running(child);
    let admin = |method: &str, path: &str, body: Value| {
        let auth = format!("Bearer {ADMIN}");
        http(
            address,
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &body.to_string(),
        )
        .unwrap()
    };
    let create = |user: &str, name: &str, scope: &str, days: i64| {
        let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + days * 86_400);
        admin(
            "POST",
            "/v1/tenants/contoso/tokens",
            json!({ "user": user, "displayName": name, "scope": scope,
                    "validTo": valid_to, "org": "contoso-main" }),
        )
    };
    // Five active tokens: two live longer than 30 days, two expire within a week.
    for (user, name, scope, days) in [
        ("alice@contoso.com", "release notes", "vso.work", 60),
        ("bob@contoso.com", "nightly build", "vso.code", 80),
        ("carol@contoso.com", "one-off export", "vso.work", 5),
        ("dave@contoso.com", "dashboard", "vso.work", 20),
        ("erin@contoso.com", "deploy pipeline", "vso.code", 3),
    ] {
        let created = create(user, name, scope, days);
        assert_eq!(created.status, 201, "{}", created.body);
    }
    // A refusal, for the refusals chart.
    let refused = create("bob@contoso.com", "forever", "vso.code", 200);
    assert_eq!(refused.status, 403, "{}", refused.body);
    let credential = |role: &str| {
        let made = admin(
            "POST",
            "/v1/admin/tenants/contoso/credentials",
            json!({ "name": format!("console-{role}"), "role": role }),
        );
        assert_eq!(made.status, 201, "{}", made.body);
        made.json()["secret"].as_str().unwrap().to_string()
    };

    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    // This run's screenshots only.
    let _ = std::fs::remove_dir_all(&screenshots);
    let settings = dir.path().join("settings.json");
    std::fs::write(
        &settings,
        json!({
            "admin_token": ADMIN,
            "auditor_credential": credential("auditor"),
            "provisioner_credential": credential("provisioner"),
            "screenshots": screenshots,
            "axe": common::root_path("tests/console/node_modules/axe-core/axe.min.js"),
            "active_tokens": 5,
            "refused_at_30_days": 2,
            "revoke_owner": "carol@contoso.com",
            // After carol's is revoked: dave's (20 days) is the one `vso.work` token left
            // that expires within 30 days.
            "work_scope_within_30": 1,
        })
        .to_string(),
    )
    .unwrap();

    let python = std::env::var("PATROL_CONSOLE_PYTHON").expect("the build found it");
    let output = Command::new(python)
        .arg(common::root_path("tests/console/e2e.py"))
        .arg(format!("http://{address}"))
        .arg(&settings)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}");
    assert!(
        output.status.success(),
        "the console's browser test failed (screenshots in {}):\n{report}\n{}",
        screenshots.display(),
        String::from_utf8_lossy(&output.stderr)
    );

    // What the browser did, seen from the API: the change is saved and audited once, with the
    // administrator as actor; carol's token is revoked by her.
    // Saved as a patch of the TOML file: still TOML, its comments kept, and nothing changed but
    // the one value the administrator changed.
    let stored = admin("GET", "/v1/admin/tenants/contoso", Value::Null);
    assert_eq!(
        stored.body,
        config.replace("max_days = 90\n", "max_days = 30\n")
    );
    let audit = admin(
        "GET",
        "/v1/tenants/contoso/audit?event=OrganizationPolicy.PolicyValueUpdated",
        Value::Null,
    );
    let entries = audit.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], "alice admin");
    let revoked = admin(
        "GET",
        "/v1/tenants/contoso/tokens?displayFilterOption=revoked",
        Value::Null,
    );
    let revoked = revoked.json()["patTokens"].as_array().unwrap().clone();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["user"], "carol@contoso.com");
}
