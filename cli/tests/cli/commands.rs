//! The `patrol` binary as a user runs it: exit codes, decision JSON on stdout, one clear line
//! on stderr when something is wrong.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn example(path: &str) -> String {
    root()
        .join("examples/contoso")
        .join(path)
        .display()
        .to_string()
}

fn patrol(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run patrol");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn decision(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a decision ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stderr_line(output: &Output) -> String {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout");
    stderr.trim_end().to_string()
}

#[test]
fn an_allowed_request_exits_0_with_the_decision() {
    let config = example("tenant.toml");
    let output = patrol(
        &[
            "eval",
            "--config",
            &config,
            "--request",
            &example("requests/create-allowed.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        decision(&output),
        serde_json::json!({"allowed": true, "violations": [], "actions": [], "adjusted_valid_to": null})
    );
}

#[test]
fn a_denied_request_exits_1_with_every_violation() {
    let config = example("tenant.toml");
    let output = patrol(
        &[
            "eval",
            "--config",
            &config,
            "--request",
            &example("requests/create-too-long.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let decision = decision(&output);
    assert_eq!(decision["allowed"], false);
    let codes: Vec<&str> = decision["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "patLifespanPolicyViolation",
            "disablePatCreationPolicyViolation",
            "writeScopeLifespanViolation"
        ]
    );
    assert_eq!(
        decision["violations"][0]["message"],
        "requested lifespan 93 days exceeds the tenant maximum of 90 days"
    );
}

#[test]
fn the_request_can_come_from_stdin() {
    let config = example("tenant.toml");
    let request = std::fs::read_to_string(example("requests/leak.json")).unwrap();
    let output = patrol(&["eval", "-c", &config, "-r", "-"], Some(&request));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        decision(&output)["actions"],
        serde_json::json!(["revoke_token", "notify_owner"])
    );
}

#[test]
fn a_malformed_request_exits_2_naming_the_field() {
    let config = example("tenant.toml");
    let cases = [
        (
            r#"{"operation":"create","org":"fabrikam","user":{"id":"bob"},"token":{"scopes":["vso.code"],"orgs":["fabrikam"],"valid_to":"next week"}}"#,
            "error: -: invalid request: `token.valid_to`: `next week` is not an RFC 3339 time such as `2026-11-28T12:00:00Z`",
        ),
        (
            r#"{"operation":"create","org":"fabrikam","token":{}}"#,
            "error: -: invalid request: `user`: is missing",
        ),
        (
            r#"{"operation":"mint"}"#,
            "error: -: invalid request: `operation`: unknown variant `mint`",
        ),
        (
            "not json",
            "error: -: invalid request: `request`: must be a JSON object",
        ),
    ];
    for (request, expected) in cases {
        let output = patrol(&["eval", "-c", &config, "-r", "-"], Some(request));
        assert_eq!(output.status.code(), Some(2), "{request}");
        let line = stderr_line(&output);
        assert!(
            line.starts_with(expected),
            "{request}\n  expected: {expected}\n  actual:   {line}"
        );
    }
}

#[test]
fn a_bad_configuration_exits_2_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tenant.toml");
    std::fs::write(&config, "tenant = \"t\"\n[orgs.tailspin]\n[orgs.tailspin.policies.restrict_pat_creation]\nenabled = true\n").unwrap();
    let config = config.display().to_string();
    let request = example("requests/create-allowed.json");
    for args in [
        vec!["eval", "-c", &config, "-r", &request],
        vec!["check", "--config", &config],
    ] {
        let output = patrol(&args, None);
        assert_eq!(output.status.code(), Some(2));
        let line = stderr_line(&output);
        assert!(
            line.starts_with(&format!(
                "error: {config}: `orgs.tailspin.policies.restrict_pat_creation`: "
            )),
            "{line}"
        );
    }
    let missing = dir.path().join("nope.toml").display().to_string();
    let output = patrol(&["check", "--config", &missing], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_line(&output).starts_with(&format!("error: {missing}: cannot read the file")));
}

/// The operator's ceilings apply to every command, so that `patrol check` judges a
/// configuration as the server will.
#[test]
fn every_command_applies_the_operator_s_ceilings_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tenant.toml");
    std::fs::write(
        &config,
        format!(
            "tenant = \"t\"\n[[custom_policies]]\nname = \"slow\"\ncomponent = {:?}\n\
             settings = {{ max_days = 7 }}\nlimits = {{ deadline_ms = 100 }}\n",
            Path::new(patrol_test_support::COMPONENT_DIR)
                .join("write_scopes_short_lived.wasm")
                .display()
                .to_string()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let check = |variable: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_patrol"));
        command.args(["check", "--config", &config]);
        if let Some(value) = variable {
            command.env("PATROL_MAX_POLICY_DEADLINE_MS", value);
        }
        command.output().expect("run patrol")
    };
    let refused = check(None);
    assert_eq!(refused.status.code(), Some(2));
    let line = stderr_line(&refused);
    assert!(
        line.contains("`deadline_ms` = 100 is above this host's ceiling of 50 ms")
            && line.contains("$PATROL_MAX_POLICY_DEADLINE_MS"),
        "{line}"
    );
    let allowed = check(Some("200"));
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let nonsense = check(Some("fast"));
    assert_eq!(nonsense.status.code(), Some(2));
    assert_eq!(
        stderr_line(&nonsense),
        "error: `PATROL_MAX_POLICY_DEADLINE_MS`: `fast` is not a whole number of 1 or more"
    );
}

#[test]
fn check_describes_every_policy_of_the_example_tenant() {
    let output = patrol(&["check", "--config", &example("tenant.toml")], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("tenant `contoso` is valid: 8 policies on"),
        "{stdout}"
    );
    for name in [
        "restrict_global_pat_creation",
        "restrict_full_scoped_pat_creation",
        "max_pat_lifespan",
        "revoke_leaked_pats",
        "restrict_pat_creation (organization `fabrikam`)",
        "write-scopes-short-lived",
        "contractors-read-only-code",
        "contractors-no-manage",
    ] {
        assert!(
            stdout.contains(&format!("  {name}: ")),
            "{name} in {stdout}"
        );
    }
}

#[test]
fn token_commands_issue_list_regenerate_scan_and_audit_on_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data]);
        patrol(&all, stdin)
    };
    let json = |output: &Output| -> serde_json::Value {
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    };
    let create = [
        "token",
        "create",
        "-t",
        "contoso",
        "--user",
        "Dana@contoso.com",
        "--name",
        "nightly",
        "--scope",
        "vso.code vso.work",
        "--org",
        "contoso-main",
    ];

    // Only `init` (or `serve`) makes a data directory: a mistyped one is an error, and nothing
    // is created.
    let missing = run(&create, None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no data directory"));
    assert!(!Path::new(data).exists());
    assert!(patrol(&["init", data], None).status.success());

    // Refused by the 90-day maximum: exit 1, the decision on stdout, the reason on stderr.
    let mut too_long = create.to_vec();
    too_long.extend(["--days", "120"]);
    let refused = run(&too_long, None);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        json(&refused)["patTokenError"],
        "patLifespanPolicyViolation"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("max_pat_lifespan"));
    // Invalid input: exit 2 and the flag named.
    let mut both = create.to_vec();
    both.extend(["--days", "3", "--valid-to", "2030-01-01T00:00:00Z"]);
    assert_eq!(run(&both, None).status.code(), Some(2));

    let created = run(&create, None);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = json(&created)["patToken"].clone();
    let (secret, id) = (
        token["token"].as_str().unwrap().to_string(),
        token["authorizationId"].as_str().unwrap().to_string(),
    );
    let listed = run(&["token", "list", "-t", "contoso"], None);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(table.contains(&id) && table.contains("dana@contoso.com") && table.contains("active"));
    assert!(
        !table.contains(&secret[4..]),
        "a listing never shows the secret"
    );

    // Regenerated: a new secret.
    let regenerated = run(
        &[
            "token",
            "regenerate",
            "-t",
            "contoso",
            &id,
            "--org",
            "contoso-main",
            "--days",
            "5",
        ],
        None,
    );
    assert!(regenerated.status.success());
    let renewed = json(&regenerated)["patToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(renewed, secret);

    // A file holding the old and the new secret: offline, a finding (exit 1), nothing revoked.
    let leaked = dir.path().join("leak.env");
    std::fs::write(&leaked, format!("OLD={secret}\nNEW={renewed}\n")).unwrap();
    let leaked = leaked.to_str().unwrap();
    let offline = patrol(&["scan", "--offline", leaked], None);
    assert_eq!(offline.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&offline.stdout).lines().count(), 2);
    assert!(!String::from_utf8_lossy(&offline.stdout).contains(&renewed[8..]));
    // Online: the old secret is unknown, the current one is revoked.
    let scanned = run(
        &["scan", leaked, "--url", "https://example.com/leak.env"],
        None,
    );
    assert!(
        scanned.status.success(),
        "{}",
        String::from_utf8_lossy(&scanned.stderr)
    );
    let outcomes: Vec<String> = json(&scanned)["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["unknown", "revoked"]);
    let revoked = run(
        &[
            "token", "list", "-t", "contoso", "--filter", "revoked", "--json",
        ],
        None,
    );
    assert_eq!(
        json(&revoked)["patTokens"][0]["revocationReason"],
        "found in public at https://example.com/leak.env"
    );

    let audit = run(&["audit", "-t", "contoso", "--json"], None);
    let events: Vec<String> = json(&audit)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "Token.PatSystemRevokeEvent",
            "Token.PatPublicDiscoveryEvent",
            "Token.PatUpdateEvent",
            "Token.PatCreateEvent",
            "Token.PatCreateEvent",
        ]
    );
    let unknown_event = run(&["audit", "-t", "contoso", "--event", "Nope"], None);
    assert_eq!(unknown_event.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown_event.stderr).contains("Token.PatCreateEvent"));
    let no_tenant = run(
        &[
            "token", "create", "-t", "nobody", "--user", "x", "--name", "x", "--scope", "vso.code",
            "--org", "x",
        ],
        None,
    );
    assert_eq!(no_tenant.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_tenant.stderr).contains("no tenant `nobody`"));
}

#[test]
fn explain_shows_each_policy_its_settings_verdict_and_rule() {
    let output = patrol(
        &[
            "eval",
            "--explain",
            "--config",
            &example("tenant.toml"),
            "--request",
            &example("requests/create-too-long.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "denied");
    let explained: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(explained["decision"]["allowed"], false);
    let policies = explained["policies"].as_array().unwrap();
    let policy = |name: &str| {
        policies
            .iter()
            .find(|p| p["policy"] == name)
            .unwrap_or_else(|| panic!("{name} in {policies:?}"))
    };
    let lifespan = policy("max_pat_lifespan");
    assert_eq!(lifespan["applied"], true);
    assert_eq!(lifespan["verdict"], "denied");
    assert_eq!(lifespan["settings"]["max_days"], 90);
    assert_eq!(
        lifespan["violations"][0]["rule"],
        "requested lifespan 93 days exceeds the tenant maximum of 90 days"
    );
    assert!(lifespan["time_us"].as_f64().unwrap() > 0.0);
    // Leak policies do not judge creations.
    let leaks = policy("revoke_leaked_pats");
    assert_eq!(leaks["applied"], false);
    assert_eq!(leaks["verdict"], "not_applicable");
    assert_eq!(policy("restrict_pat_creation")["org"], "fabrikam");
}

#[test]
fn explain_shows_the_expression_of_a_rule_and_the_values_it_saw() {
    let output = patrol(
        &[
            "eval",
            "--explain",
            "--config",
            &example("tenant.toml"),
            "--request",
            &example("requests/create-contractor-manage.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "denied");
    let explained: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rule = explained["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "contractors-no-manage")
        .expect("the rule is explained");
    assert_eq!(rule["verdict"], "denied");
    assert_eq!(
        rule["violations"][0]["code"], "contractorManageScope",
        "{rule}"
    );
    assert!(
        rule["rule"]["expression"]
            .as_str()
            .unwrap()
            .starts_with("!(user.groups.exists(g, g in params.contractor_groups)"),
        "{rule}"
    );
    // What it read, as it read it: names in lowercase.
    assert_eq!(
        rule["rule"]["saw"],
        serde_json::json!({
            "params.contractor_groups": ["contractors", "vendors"],
            "token.scopes": ["vso.code", "vso.code_manage"],
            "user.groups": ["contractors"],
        })
    );
    // A policy that is not a rule has no `rule` to show.
    let lifespan = explained["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "max_pat_lifespan")
        .unwrap();
    assert!(lifespan["rule"].is_null());
}

#[test]
fn check_reports_every_invalid_rule_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tenant.toml");
    std::fs::write(
        &config,
        r#"tenant = "t"

[[rules]]
name = "good"
expression = "token.orgs.size() > 0 || token.all_orgs"

[[rules]]
name = "typo"
expression = "user.grups.exists(g, g == 'x')"

[[rules]]
name = "wrong-type"
expression = "token.valid_to - now <= 7"
"#,
    )
    .unwrap();
    let output = patrol(&["check", "--config", config.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "rule `typo`: invalid settings: `expression` (`user.grups.exists(g, g == 'x')`) at \
             line 1, column 6: `user` has no field `grups`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("rule `wrong-type`: invalid settings: `expression` (`token.valid_to - now <= 7`) cannot be evaluated"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 policies and rules are invalid"),
        "{stderr}"
    );
    assert!(!stderr.contains("`good`"), "{stderr}");
}

/// A rule is a policy like any other to the dry run: the tokens it would refuse are listed
/// under its name and code, with their owners' groups from the directory.
#[test]
fn the_dry_run_judges_tokens_by_rules_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    assert!(patrol(&["init", data], None).status.success());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data]);
        let output = patrol(&all, None);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    run(&[
        "groups",
        "set",
        "-t",
        "contoso",
        "contractors",
        "carol@contoso.com",
    ]);
    for (user, name) in [
        ("carol@contoso.com", "deploy"),
        ("dana@contoso.com", "admin"),
    ] {
        run(&[
            "token",
            "create",
            "-t",
            "contoso",
            "--user",
            user,
            "--name",
            name,
            "--scope",
            "vso.code_manage",
            "--org",
            "contoso-main",
            "--days",
            "30",
        ]);
    }
    let proposal = dir.path().join("proposal.toml");
    std::fs::write(
        &proposal,
        r#"tenant = "contoso"
[[rules]]
name = "contractors-no-manage"
expression = '!(user.groups.exists(g, g == "contractors") && token.scopes.exists(s, s.endsWith("_manage")))'
code = "contractorManageScope"
message = "contractors may not hold manage scopes"
"#,
    )
    .unwrap();
    let proposal = proposal.to_str().unwrap();
    let dry_run = patrol(
        &[
            "whatif",
            "--config",
            proposal,
            "--format",
            "json",
            "--data-dir",
            data,
        ],
        None,
    );
    let said: serde_json::Value = serde_json::from_slice(&dry_run.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&dry_run.stderr));
    });
    let text = said.to_string();
    assert!(text.contains("contractors-no-manage"), "{said:#}");
    assert!(text.contains("contractorManageScope"), "{said:#}");
    assert!(text.contains("carol@contoso.com"), "{said:#}");
    assert!(!text.contains("dana@contoso.com"), "{said:#}");
}

/// `patrol` in `dir`, with `args`.
fn patrol_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(args)
        .current_dir(dir)
        .env("PATROL_CACHE_DIR", "")
        .output()
        .expect("run patrol")
}

#[test]
fn read_only_commands_never_create_a_data_directory_and_refuse_what_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("patrol-dta");
    let missing = missing.to_str().unwrap();
    let not_ours = dir.path().join("etc");
    std::fs::create_dir(&not_ours).unwrap();
    std::fs::write(not_ours.join("hosts"), "127.0.0.1 localhost\n").unwrap();
    let not_ours = not_ours.to_str().unwrap();
    let proposal = dir.path().join("proposed.toml");
    std::fs::write(&proposal, "tenant = \"contoso\"\n").unwrap();
    let proposal = proposal.to_str().unwrap();
    for data in [missing, not_ours] {
        let commands: [&[&str]; 7] = [
            &["report", "usage", "--tenant", "contoso", "--data-dir", data],
            &[
                "report",
                "--data-dir",
                data,
                "-t",
                "contoso",
                "--html",
                "x.html",
            ],
            &["whatif", "--data-dir", data, "--config", proposal],
            &["audit", "--data-dir", data, "--tenant", "contoso"],
            &["token", "list", "-t", "contoso", "--data-dir", data],
            &["groups", "--data-dir", data, "list", "-t", "contoso"],
            &["mcp", "--data-dir", data],
        ];
        for args in commands {
            let output = patrol_in(dir.path(), args);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{args:?}: {}",
                stderr_line(&output)
            );
            let line = stderr_line(&output);
            assert!(
                line.contains("there is no data directory")
                    || line.contains("is not a patrol data directory"),
                "{args:?}: {line}"
            );
        }
    }
    assert!(!Path::new(missing).exists(), "nothing was created");
    let left: Vec<_> = std::fs::read_dir(not_ours).unwrap().collect();
    assert_eq!(
        left.len(),
        1,
        "nothing was written into a folder that is not ours"
    );
    assert!(!dir.path().join("x.html").exists());

    // `init` makes one; then every form of `--data-dir` works, and an unknown tenant is an
    // error, not an empty report.
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let init = patrol_in(dir.path(), &["init", data]);
    assert!(init.status.success(), "{}", stderr_line(&init));
    for args in [
        &["report", "usage", "--data-dir", data, "--tenant", "contoso"][..],
        &["report", "--data-dir", data, "usage", "--tenant", "contoso"],
        &["token", "--data-dir", data, "list", "-t", "contoso"],
        &["token", "list", "-t", "contoso", "--data-dir", data],
        &["groups", "list", "--data-dir", data, "-t", "contoso"],
    ] {
        let output = patrol_in(dir.path(), args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            stderr_line(&output)
        );
    }
    for args in [
        &["report", "usage", "--data-dir", data, "--tenant", "contso"][..],
        &["token", "list", "--data-dir", data, "-t", "contso"],
        &["audit", "--data-dir", data, "-t", "contso"],
    ] {
        let output = patrol_in(dir.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr_line(&output).contains("no tenant `contso`"),
            "{args:?}"
        );
    }

    // A file named without a folder is written in the current folder, as the README shows.
    let html = patrol_in(
        dir.path(),
        &[
            "report",
            "--data-dir",
            data,
            "--tenant",
            "contoso",
            "--html",
            "tokens.html",
        ],
    );
    assert!(html.status.success(), "{}", stderr_line(&html));
    assert!(dir.path().join("tokens.html").is_file());
    let page = std::fs::read_to_string(dir.path().join("tokens.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");

    // So is a proposal named without a folder, and `--apply` names the folder it is in when it
    // refuses to move a relative component path into the data directory.
    std::fs::copy(
        Path::new(patrol_test_support::COMPONENT_DIR).join("write_scopes_short_lived.wasm"),
        dir.path().join("mine.wasm"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("relative.toml"),
        "tenant = \"contoso\"\n[[custom_policies]]\nname = \"mine\"\ncomponent = \"mine.wasm\"\nsettings = { max_days = 30 }\n",
    )
    .unwrap();
    let dry_run = patrol_in(
        dir.path(),
        &["whatif", "--data-dir", data, "--config", "relative.toml"],
    );
    assert_eq!(
        dry_run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dry_run.stderr)
    );
    let applied = patrol_in(
        dir.path(),
        &[
            "whatif",
            "--data-dir",
            data,
            "--config",
            "relative.toml",
            "--apply",
        ],
    );
    assert_eq!(applied.status.code(), Some(2));
    let said = String::from_utf8_lossy(&applied.stderr);
    assert!(said.contains("is a path relative to `.`"), "{said}");
}

/// The operator's side of tenant credentials: the secret printed once, lists without it, a
/// rotation that ends the old secret, a revocation, and clear errors for a bad role, a taken
/// name and an unknown tenant.
#[test]
fn credentials_are_created_listed_rotated_and_revoked_with_the_secret_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    assert!(patrol(&["init", data], None).status.success());
    let run = |args: &[&str]| {
        let mut all = vec!["credentials", "--data-dir", data];
        all.extend(args);
        patrol(&all, None)
    };
    let created = run(&[
        "create",
        "-t",
        "contoso",
        "--role",
        "provisioner",
        "entra",
        "--json",
        "--actor",
        "ops",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["credential"]["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ptc_"), "{secret}");
    assert_eq!(created["credential"]["created_by"], "ops");

    let listed = run(&["list", "-t", "contoso"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains(&id) && listed.contains("provisioner") && listed.contains("never used")
    );
    assert!(!listed.contains(&secret));

    for (args, expected) in [
        (
            vec!["create", "-t", "contoso", "--role", "owner", "x"],
            "`--role`: `owner` is not a role",
        ),
        (
            vec!["create", "-t", "contoso", "--role", "admin", "entra"],
            "already has a credential called `entra`",
        ),
        (
            vec!["create", "-t", "nowhere", "--role", "admin", "x"],
            "nowhere",
        ),
        (
            vec!["rotate", "cred_0000000000000000"],
            "no live credential `cred_0000000000000000`",
        ),
    ] {
        let output = run(&args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    let rotated = run(&["rotate", &id, "--json"]);
    assert!(rotated.status.success());
    let rotated: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_ne!(rotated["secret"], secret.as_str());
    assert!(run(&["revoke", &id]).status.success());
    let listed = String::from_utf8(run(&["list"]).stdout).unwrap();
    assert!(listed.contains("revoked"), "{listed}");
    assert!(!run(&["rotate", &id]).status.success());

    let audit = patrol(
        &["audit", "--data-dir", data, "-t", "contoso", "--json"],
        None,
    );
    let audit = String::from_utf8_lossy(&audit.stdout);
    for event in [
        "Credential.CreateEvent",
        "Credential.RotateEvent",
        "Credential.RevokeEvent",
    ] {
        assert!(audit.contains(event), "{event}: {audit}");
    }
}
