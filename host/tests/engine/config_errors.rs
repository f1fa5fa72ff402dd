//! Every way a tenant configuration can be wrong is refused with a message naming the file,
//! the policy and the field, before any request is judged.

use std::path::Path;

use patrol::{Engine, EngineConfig, TenantConfig};

/// One engine for every case, so that the components they load (the CEL rules' bundle above
/// all) are compiled once.
static ENGINE: std::sync::LazyLock<Engine> =
    std::sync::LazyLock::new(|| Engine::new(EngineConfig::default()).unwrap());

/// Loads `toml` from a file in a fresh folder and returns the error message.
fn load_error(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.toml");
    std::fs::write(dir.path().join("garbage.wasm"), b"not wasm at all").unwrap();
    std::fs::write(dir.path().join("module.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(&path, toml).unwrap();
    let result = TenantConfig::from_file(&path)
        .map_err(|e| e.to_string())
        .and_then(|config| patrol::Tenant::load(&ENGINE, &config).map_err(|e| e.to_string()));
    let message = result.expect_err("the configuration should be refused");
    let prefix = format!("{}: ", path.display());
    assert!(message.starts_with(&prefix), "names the file: {message}");
    message[prefix.len()..].to_string()
}

fn component(name: &str) -> String {
    Path::new(patrol_test_support::COMPONENT_DIR)
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

#[test]
fn configuration_errors_name_the_policy_and_the_field() {
    // Compiles components on every core: not while other tests measure time.
    let _machine = crate::machine::whole();
    let write_scopes = component("write_scopes_short_lived");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "restrict_pat_creation on an organization not backed by Entra ID",
            "tenant = \"t\"\n[orgs.tailspin]\n[orgs.tailspin.policies.restrict_pat_creation]\nenabled = true\n".into(),
            "`orgs.tailspin.policies.restrict_pat_creation`: `restrict_pat_creation` is only available for organizations backed by Microsoft Entra ID, and `tailspin` is not",
        ),
        (
            "even a disabled restrict_pat_creation on a non-Entra organization",
            "tenant = \"t\"\n[orgs.tailspin]\nentra_backed = false\n[orgs.tailspin.policies.restrict_pat_creation]\nenabled = false\n".into(),
            "`orgs.tailspin.policies.restrict_pat_creation`: `restrict_pat_creation` is only available",
        ),
        (
            "max_days out of range",
            "tenant = \"t\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 400\n".into(),
            "policy `max_pat_lifespan`: invalid settings: `max_days` must be between 1 and 365, got `400`",
        ),
        (
            "max_days missing",
            "tenant = \"t\"\n[policies.max_pat_lifespan]\nenabled = true\n".into(),
            "policy `max_pat_lifespan`: invalid settings: missing field `max_days`",
        ),
        (
            "a misspelt setting",
            "tenant = \"t\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_dayz = 30\n".into(),
            "policy `max_pat_lifespan`: invalid settings: unknown field `max_dayz`, expected `max_days` or `clamp`",
        ),
        (
            "a setting of the wrong type",
            "tenant = \"t\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = \"ninety\"\n".into(),
            "policy `max_pat_lifespan`: invalid settings: `max_days`: invalid type: string \"ninety\", expected a non-negative integer",
        ),
        (
            "a setting on a policy that takes none",
            "tenant = \"t\"\n[policies.restrict_global_pat_creation]\nenabled = true\nstrict = true\n".into(),
            "policy `restrict_global_pat_creation`: invalid settings: unknown field `strict`",
        ),
        (
            "enabled left out",
            "tenant = \"t\"\n[policies.max_pat_lifespan]\nmax_days = 30\n".into(),
            "`policies.max_pat_lifespan.enabled`: is missing; set `enabled = true`",
        ),
        (
            "an unknown policy",
            "tenant = \"t\"\n[policies.max_token_age]\nenabled = true\n".into(),
            "`policies.max_token_age`: unknown policy `max_token_age`; the built-in policies are",
        ),
        (
            "the organization policy at tenant level",
            "tenant = \"t\"\n[policies.restrict_pat_creation]\nenabled = true\n".into(),
            "`policies.restrict_pat_creation`: `restrict_pat_creation` is an organization policy",
        ),
        (
            "a tenant policy at organization level",
            "tenant = \"t\"\n[orgs.fabrikam]\nentra_backed = true\n[orgs.fabrikam.policies.max_pat_lifespan]\nenabled = true\n".into(),
            "`orgs.fabrikam.policies.max_pat_lifespan`: `max_pat_lifespan` is a tenant policy",
        ),
        (
            "an unknown mode",
            "tenant = \"t\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 3\nmode = \"warn\"\n".into(),
            "`policies.max_pat_lifespan.mode`: unknown variant `warn`, expected `enforce` or `audit`",
        ),
        (
            "an unknown top-level key",
            "tenant = \"t\"\ncolour = \"blue\"\n".into(),
            "`colour`: unknown field `colour`",
        ),
        (
            "no tenant",
            "[policies.max_pat_lifespan]\nenabled = false\n".into(),
            "missing field `tenant`",
        ),
        (
            "a tenant name with spaces",
            "tenant = \"con toso\"\n".into(),
            "`tenant`: `con toso` is not a valid name",
        ),
        (
            "an empty allowlist entry",
            "tenant = \"t\"\n[policies.restrict_global_pat_creation]\nenabled = true\nallowlist = { groups = [\"ok\", \" \"] }\n".into(),
            "`policies.restrict_global_pat_creation.allowlist.groups[1]`: must not be empty",
        ),
        (
            "an allowlist with an unknown key",
            "tenant = \"t\"\n[policies.restrict_global_pat_creation]\nenabled = true\nallowlist = { admins = [\"x\"] }\n".into(),
            "`policies.restrict_global_pat_creation.allowlist.admins`: unknown field `admins`, expected `users` or `groups`",
        ),
        (
            "an out-of-range limit",
            "tenant = \"t\"\n[policies.restrict_global_pat_creation]\nenabled = true\nlimits = { deadline_ms = 0 }\n".into(),
            "policy `restrict_global_pat_creation`: `limits`: `deadline_ms` must be between 1 and 10000, got `0`",
        ),
        (
            "a limit of the wrong type",
            "tenant = \"t\"\n[policies.restrict_global_pat_creation]\nenabled = true\nlimits = { memory_mib = \"lots\" }\n".into(),
            "`policies.restrict_global_pat_creation.limits.memory_mib`: invalid type: string \"lots\", expected a non-negative integer",
        ),
        (
            "invalid TOML",
            "tenant = \"t\"\n[policies.max_pat_lifespan\n".into(),
            "not valid TOML: TOML parse error at line 2",
        ),
        (
            "a custom policy whose component is missing",
            "tenant = \"t\"\n[[custom_policies]]\nname = \"gone\"\ncomponent = \"gone.wasm\"\n".into(),
            "policy `gone`: cannot read `",
        ),
        (
            "a custom policy whose component is not WebAssembly",
            "tenant = \"t\"\n[[custom_policies]]\nname = \"junk\"\ncomponent = \"garbage.wasm\"\n".into(),
            "policy `junk`: the component `",
        ),
        (
            "a custom policy whose component is a core module",
            "tenant = \"t\"\n[[custom_policies]]\nname = \"core\"\ncomponent = \"module.wasm\"\n".into(),
            "is a core WebAssembly module, not a component",
        ),
        (
            "a custom policy named like a built-in one",
            format!("tenant = \"t\"\n[[custom_policies]]\nname = \"max_pat_lifespan\"\ncomponent = \"{write_scopes}\"\n"),
            "`custom_policies[0].name`: `max_pat_lifespan` is the name of a built-in policy",
        ),
        (
            "two custom policies with one name",
            format!("tenant = \"t\"\n[[custom_policies]]\nname = \"w\"\ncomponent = \"{write_scopes}\"\nsettings = {{ max_days = 3 }}\n[[custom_policies]]\nname = \"w\"\ncomponent = \"{write_scopes}\"\n"),
            "`custom_policies[1].name`: another custom policy or rule is already named `w`",
        ),
        (
            "a rule named like a custom policy",
            format!("tenant = \"t\"\n[[custom_policies]]\nname = \"w\"\ncomponent = \"{write_scopes}\"\nsettings = {{ max_days = 3 }}\n[[rules]]\nname = \"w\"\nexpression = \"true\"\n"),
            "`rules[0].name`: another custom policy or rule is already named `w`",
        ),
        (
            "a rule without an expression",
            "tenant = \"t\"\n[[rules]]\nname = \"r\"\nmessage = \"m\"\n".into(),
            "`rules[0]`: missing field `expression`",
        ),
        (
            "a rule with a misspelt key",
            "tenant = \"t\"\n[[rules]]\nname = \"r\"\nexpression = \"true\"\nmesage = \"m\"\n".into(),
            "`rules[0].mesage`: unknown field `mesage`",
        ),
        (
            "a rule with an unknown operation",
            "tenant = \"t\"\n[[rules]]\nname = \"r\"\nexpression = \"true\"\noperations = [\"create\", \"revoke\"]\n".into(),
            "`rules[0].operations[1]`: unknown operation `revoke`; use `create`, `regenerate` or `use`",
        ),
        (
            "a rule with an uppercase name",
            "tenant = \"t\"\n[[rules]]\nname = \"NoManage\"\nexpression = \"true\"\n".into(),
            "`rules[0].name`: `NoManage` is not a valid name",
        ),
        (
            "a rule whose expression is invalid names the rule, the expression and the position",
            "tenant = \"t\"\n[[rules]]\nname = \"r\"\nexpression = \"user.grups.size() > 0\"\n".into(),
            "rule `r`: invalid settings: `expression` (`user.grups.size() > 0`) at line 1, column 6: `user` has no field `grups`; it has `id`, `groups`",
        ),
        (
            "a rule with params of the wrong shape",
            "tenant = \"t\"\n[[rules]]\nname = \"r\"\nexpression = \"true\"\nparams = [1]\n".into(),
            "`rules[0].params`: invalid type: sequence, expected a table",
        ),
        (
            "a rule with an out-of-range limit",
            "tenant = \"t\"\n[[rules]]\nname = \"r\"\nexpression = \"true\"\nlimits = { deadline_ms = 0 }\n".into(),
            "rule `r`: `limits`: `deadline_ms` must be between 1 and 10000, got `0`",
        ),
        (
            "a custom policy with invalid settings",
            format!("tenant = \"t\"\n[[custom_policies]]\nname = \"w\"\ncomponent = \"{write_scopes}\"\nsettings = {{ max_days = 0 }}\n"),
            "policy `w`: invalid settings: `max_days` must be between 1 and 365, got `0`",
        ),
        (
            "a custom policy with an unknown key",
            format!("tenant = \"t\"\n[[custom_policies]]\nname = \"w\"\ncomponent = \"{write_scopes}\"\nmax_days = 3\n"),
            "`custom_policies[0].max_days`: unknown field `max_days`",
        ),
    ];
    let mut failures = Vec::new();
    for (name, toml, expected) in &cases {
        let message = load_error(toml);
        if !message.contains(expected) {
            failures.push(format!(
                "{name}:\n  expected: {expected}\n  actual:   {message}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A tenant may have at most `MAX_RULES` rules.
#[test]
fn too_many_rules_are_refused() {
    let _machine = crate::machine::whole();
    let mut toml = String::from("tenant = \"t\"\n");
    for i in 0..=patrol::config::MAX_RULES {
        toml.push_str(&format!(
            "[[rules]]\nname = \"r{i}\"\nexpression = \"true\"\n"
        ));
    }
    let message = load_error(&toml);
    assert!(
        message.contains("`rules[64]`: a tenant may have at most 64 rules, and this one has 65"),
        "{message}"
    );
}

#[test]
fn the_same_configuration_in_json_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.json");
    std::fs::write(
        &path,
        r#"{ "tenant": "contoso",
             "policies": { "max_pat_lifespan": { "enabled": true, "max_days": 30, "clamp": true } },
             "orgs": { "fabrikam": { "entra_backed": true,
                       "policies": { "restrict_pat_creation": { "enabled": true } } } } }"#,
    )
    .unwrap();
    let config = TenantConfig::from_file(&path).unwrap();
    let names: Vec<(&str, Option<&str>)> = config
        .policies
        .iter()
        .map(|p| (p.name.as_str(), p.org.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("max_pat_lifespan", None),
            ("revoke_leaked_pats", None),
            ("restrict_pat_creation", Some("fabrikam")),
        ]
    );
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let tenant = patrol::Tenant::load(&engine, &config).unwrap();
    let settings: Vec<&str> = tenant.policies().map(|p| p.effective_settings).collect();
    assert_eq!(
        settings,
        [
            r#"{"max_days":30,"clamp":true}"#,
            "{}",
            r#"{"org":"fabrikam","allow_packaging_scope_only":false}"#,
        ]
    );
}
