//! The compliance reports through the real binary: CSV, HTML and `whatif --apply`, on a
//! store of a few hundred generated tokens (`inventory`), each expectation computed from the
//! generator's own description of the tokens.

use std::process::Command;

use crate::inventory::{self, Spec, TENANT};
use patrol::timestamp;
use patrol_store::reports::html;
use serde_json::Value;

const DAY: i64 = 86_400;

fn active(inv: &inventory::Inventory) -> impl Iterator<Item = &Spec> {
    inv.specs.iter().filter(|s| s.active(inv.t0))
}

fn patrol(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(args)
        .env("PATROL_CACHE_DIR", "")
        .output()
        .unwrap()
}

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn the_binary_reports_writes_html_and_applies_a_proposal() {
    let inv = inventory::generate();
    let data = inv.data_dir();
    let data = data.to_str().unwrap();

    // CSV through the binary: one line per offending token, a header first.
    let csv = ok(&patrol(&[
        "report",
        "--data-dir",
        data,
        "--tenant",
        TENANT,
        "--format",
        "csv",
        "noncompliant",
        "--max-days",
        "90",
    ]));
    let offending = active(&inv)
        .filter(|s| s.lifetime() > 90 * DAY || s.has_full_scope())
        .count();
    assert_eq!(csv.lines().count(), offending + 1, "{csv}");
    assert!(csv.starts_with("owner,token_id,name,lifetime_days,full_scope,breaks,valid_to\n"));

    // A bad parameter names the flag.
    let output = patrol(&[
        "report",
        "--data-dir",
        data,
        "--tenant",
        TENANT,
        "expiring",
        "--days",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`--days`: must be from 1 to 3650"));

    // The HTML page: self-contained, every active token in the table, the charts adding up.
    let page_path = inv.dir.path().join("report.html");
    ok(&patrol(&[
        "report",
        "--data-dir",
        data,
        "--tenant",
        TENANT,
        "--html",
        page_path.to_str().unwrap(),
    ]));
    let page = std::fs::read_to_string(&page_path).unwrap();
    for outside in ["<script", "<link", " src=", "url(", "@import", "https://"] {
        assert!(!page.contains(outside), "the page loads nothing: {outside}");
    }
    let rows = page.matches("<tr class=\"token").count();
    assert_eq!(rows, active(&inv).count());
    // Every report, each with its CSV, on the one page.
    for section in [
        "policies",
        "refusals",
        "noncompliant",
        "scope",
        "expiring",
        "automation",
        "inventory",
    ] {
        assert!(page.contains(&format!("id=\"{section}\"")), "{section}");
    }
    assert_eq!(page.matches("download=\"acme-").count(), 5);
    let now = timestamp::now();
    // The expiry chart's weeks are dated with their year, and the first one stands out.
    let first_week = format!("week of {}", &timestamp::format_rfc3339(now)[..10]);
    assert!(page.contains(&first_week), "{first_week}");
    assert!(page.contains("fill=\"#cf222e\""));
    // `_full` and `app_token` cannot be taken for one another.
    assert!(page.contains("all of one area (…_full)") && page.contains("everything (app_token)"));
    let tokens = patrol_store::reports::all_tokens(&inv.tokens, TENANT, now).unwrap();
    let weeks: usize = html::expiry_weeks(&tokens, now)
        .iter()
        .map(|(_, n)| n)
        .sum();
    let levels: usize = html::scope_levels(&tokens, now)
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!((weeks, levels), (rows, rows));
    let first_week = active(&inv)
        .filter(|s| s.valid_to <= inv.t0 + 7 * DAY)
        .count();
    assert_eq!(html::expiry_weeks(&tokens, now)[0].1, first_week);

    // The dry run, then --apply: the file is replaced and the change audited, once.
    let proposed = inv.dir.path().join("proposed.toml");
    std::fs::write(
        &proposed,
        "tenant = \"acme\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 90\n",
    )
    .unwrap();
    // Tokens would break: exit 1, so that a pipeline can gate on the dry run.
    let dry_run = patrol(&[
        "whatif",
        "--data-dir",
        data,
        "--config",
        proposed.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(dry_run.status.code(), Some(1));
    let dry: Value = serde_json::from_slice(&dry_run.stdout).unwrap();
    let too_long = active(&inv).filter(|s| s.lifetime() > 90 * DAY).count();
    assert_eq!(dry["failing_tokens"], too_long);
    assert_eq!(dry["per_policy"][0]["newly_failing"], too_long);
    let before = std::fs::read_to_string(inv.data_dir().join("tenants/acme.toml")).unwrap();
    assert!(
        before.contains("max_days = 365"),
        "the dry run changed nothing"
    );

    let applied = patrol(&[
        "whatif",
        "--data-dir",
        data,
        "--config",
        proposed.to_str().unwrap(),
        "--apply",
        "--actor",
        "carol@acme.example",
    ]);
    ok(&applied);
    let said = String::from_utf8_lossy(&applied.stderr);
    assert!(said.contains("1 policy change recorded"), "{said}");
    let after = std::fs::read_to_string(inv.data_dir().join("tenants/acme.toml")).unwrap();
    assert!(after.contains("max_days = 90"));
    // A proposal that breaks nothing (the configuration now in force, less strict): exit 0.
    let lenient = inv.dir.path().join("lenient.toml");
    std::fs::write(&lenient, "tenant = \"acme\"\n").unwrap();
    let fine = patrol(&[
        "whatif",
        "--data-dir",
        data,
        "--config",
        lenient.to_str().unwrap(),
    ]);
    assert_eq!(
        fine.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fine.stdout)
    );
    let audit = ok(&patrol(&[
        "audit",
        "--data-dir",
        data,
        "--tenant",
        TENANT,
        "--event",
        "OrganizationPolicy.PolicyValueUpdated",
        "--json",
    ]));
    let entries: Value = serde_json::from_str(&audit).unwrap();
    let entries = entries["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], "carol@acme.example");
    assert_eq!(
        entries[0]["details"]["previous"]["settings"]["max_days"],
        365
    );
    assert_eq!(entries[0]["details"]["value"]["settings"]["max_days"], 90);

    // Applying the same again records nothing new.
    let again = patrol(&[
        "whatif",
        "--data-dir",
        data,
        "--config",
        proposed.to_str().unwrap(),
        "--apply",
    ]);
    ok(&again);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("0 policy changes recorded"), "{said}");

    // A proposal whose component path is relative to where it lives is not applied.
    let elsewhere = inv.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let component = patrol_test_support::component("write_scopes_short_lived");
    std::fs::copy(&component, elsewhere.join("rule.wasm")).unwrap();
    let relative = elsewhere.join("proposed.toml");
    std::fs::write(
        &relative,
        "tenant = \"acme\"\n[[custom_policies]]\nname = \"short\"\ncomponent = \"rule.wasm\"\nsettings = { max_days = 7 }\n",
    )
    .unwrap();
    let output = patrol(&[
        "whatif",
        "--data-dir",
        data,
        "--config",
        relative.to_str().unwrap(),
        "--apply",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("`custom_policies[0].component` is a path relative to"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(inv.data_dir().join("tenants/acme.toml")).unwrap(),
        after,
        "nothing written"
    );
}
