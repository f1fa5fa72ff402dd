//! Tenant configuration: TOML (or the same shape in JSON), checked into a [`TenantConfig`].
//!
//! ```toml
//! tenant = "contoso"
//!
//! [policies.max_pat_lifespan]
//! enabled = true
//! max_days = 90
//!
//! [orgs.fabrikam]
//! entra_backed = true
//!
//! [orgs.fabrikam.policies.restrict_pat_creation]
//! enabled = true
//! allow_packaging_scope_only = true
//! allowlist = { groups = ["release-engineers"] }
//!
//! [[custom_policies]]
//! name = "write-scopes-short-lived"
//! component = "policies/write_scopes_short_lived.wasm"
//! settings = { max_days = 7 }
//!
//! [[rules]]
//! name = "contractors-no-manage"
//! expression = '!(user.groups.exists(g, g == "contractors") && token.scopes.exists(s, s.endsWith("_manage")))'
//! code = "contractorManageScope"
//! message = "contractors may not hold manage scopes"
//! ```
//!
//! Every policy, built-in or custom, takes the same general keys: `enabled`, `mode`
//! (`enforce` or `audit`), `on_error` (`deny` or `allow`), `allowlist` (`users`, `groups`) and
//! `limits`. A built-in policy's other keys are its settings; a custom policy's settings go in
//! its `settings` table. A rule (`[[rules]]`, a CEL expression; see the `cel-rule` policy crate)
//! is the built-in `cel_rule` policy with the rule's own keys as its settings, and the general
//! keys too. Settings are checked by the policy itself when the tenant is loaded
//! (see [`Tenant::load`](crate::Tenant::load)); everything else is checked here,
//! and every error names the file and the field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::builtin::{BUILTIN_POLICIES, BuiltinPolicy, PolicyLevel, builtin_policy};
use crate::digest::Digest;
use crate::identity::{self, Kind};
use crate::limits::LimitOverrides;
use crate::request::{Actor, Operation};
use crate::scopes::ScopeCatalogue;
use crate::serde_message;

/// A tenant's checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The tenant's id.
    pub tenant: String,
    /// Where the configuration came from, for messages: a file path, or a description.
    pub origin: String,
    /// The policies that are on, in evaluation order: the built-in tenant policies, the
    /// built-in organization policies by organization, then custom policies as listed.
    pub policies: Vec<PolicyConfig>,
    /// The scopes its tokens may carry: the Azure DevOps catalogue and `scopes.extra`.
    pub scopes: ScopeCatalogue,
}

/// One policy that is on, with everything the host needs to load it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Its name in decisions: the built-in key, or the custom policy's `name`.
    pub name: String,
    /// For organization policies, the organization.
    pub org: Option<String>,
    /// Where its settings live in the configuration, for messages, such as
    /// `policies.max_pat_lifespan` or `custom_policies[0]`.
    pub location: String,
    /// The component that implements it.
    pub component: ComponentSource,
    /// Its settings, as passed to the component's `validate-settings`.
    pub settings: Map<String, Value>,
    /// Whether its violations refuse requests.
    pub mode: Mode,
    /// What a failure of the policy means.
    pub on_error: OnError,
    /// Who is exempt from it.
    pub allowlist: Allowlist,
    /// Its changes to the host's limits.
    pub limits: LimitOverrides,
    /// The operations it judges, when the configuration narrows those of its component (a
    /// rule's `operations`); `None` for all the component judges.
    pub operations: Option<Vec<Operation>>,
}

/// Where a policy's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    /// A seed policy embedded in patrol, by its component's name.
    Builtin(&'static str),
    /// A component file.
    File(PathBuf),
    /// A component in the engine's component store, by digest (`component = "sha256:..."`),
    /// as uploaded to `patrol serve`.
    Stored(Digest),
}

/// Whether a policy's violations refuse the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Violations refuse the request.
    #[default]
    Enforce,
    /// Violations are reported with `"enforced": false` and refuse nothing: a dry run.
    Audit,
}

/// What a policy failure (timeout, trap, limit) means for the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Fail closed: the failure refuses the request.
    #[default]
    Deny,
    /// Fail open: the failure is reported, not enforced.
    Allow,
}

/// Users and groups exempt from one policy. Ids compare case-insensitively; a user is exempt
/// when their id or any of their groups is listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// Exempt user ids.
    #[serde(default)]
    pub users: Vec<String>,
    /// Exempt group ids.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Allowlist {
    /// Whether `actor` is exempt.
    pub fn contains(&self, actor: &Actor) -> bool {
        self.users.iter().any(|u| u.eq_ignore_ascii_case(&actor.id))
            || actor.groups.iter().any(|g| {
                self.groups
                    .iter()
                    .any(|listed| listed.eq_ignore_ascii_case(g))
            })
    }
}

/// A configuration that cannot be used, naming where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or description) the configuration came from.
    pub origin: String,
    /// The path of the field at fault, such as `policies.max_pat_lifespan.max_days`; empty
    /// when the problem is the document as a whole.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.origin, self.problem)
        } else {
            write!(f, "{}: `{}`: {}", self.origin, self.field, self.problem)
        }
    }
}

/// The largest tenant configuration file read, in bytes: 4 MiB, far more than any tenant
/// needs (`patrol serve` accepts 1 MiB over HTTP).
pub const MAX_CONFIG_FILE_BYTES: usize = 4 << 20;

impl TenantConfig {
    /// Reads a configuration file: JSON when its name ends in `.json`, TOML otherwise.
    /// Relative component paths are relative to the file's folder. A file larger than
    /// [`MAX_CONFIG_FILE_BYTES`], or not a regular file, is refused without being read whole.
    pub fn from_file(path: &Path) -> Result<TenantConfig, ConfigError> {
        let origin = path.display().to_string();
        let problem = |problem: String| ConfigError {
            origin: origin.clone(),
            field: String::new(),
            problem,
        };
        let bytes = crate::files::read_bounded(path, MAX_CONFIG_FILE_BYTES)
            .map_err(|error| problem(format!("cannot read the file: {error}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|error| problem(format!("the file is not UTF-8: {error}")))?;
        let base_dir = crate::files::folder_of(path);
        if path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
        {
            TenantConfig::from_json(&text, &origin, base_dir)
        } else {
            TenantConfig::from_toml(&text, &origin, base_dir)
        }
    }

    /// Parses a TOML configuration.
    pub fn from_toml(
        text: &str,
        origin: &str,
        base_dir: &Path,
    ) -> Result<TenantConfig, ConfigError> {
        let table: toml::Table = text.parse().map_err(|error: toml::de::Error| ConfigError {
            origin: origin.to_string(),
            field: String::new(),
            problem: format!("not valid TOML: {}", error.to_string().trim_end()),
        })?;
        TenantConfig::from_toml_table(table, origin, base_dir)
    }

    /// Checks a configuration already parsed from TOML.
    pub fn from_toml_table(
        table: toml::Table,
        origin: &str,
        base_dir: &Path,
    ) -> Result<TenantConfig, ConfigError> {
        let value = toml_to_json(toml::Value::Table(table)).map_err(|problem| ConfigError {
            origin: origin.to_string(),
            field: String::new(),
            problem,
        })?;
        Resolver::new(origin, base_dir).resolve(value)
    }

    /// Parses a JSON configuration.
    pub fn from_json(
        text: &str,
        origin: &str,
        base_dir: &Path,
    ) -> Result<TenantConfig, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|error| ConfigError {
            origin: origin.to_string(),
            field: String::new(),
            problem: format!("not valid JSON: {error}"),
        })?;
        Resolver::new(origin, base_dir).resolve(value)
    }
}

/// TOML values as JSON values, so both formats go through one checked path. TOML times become
/// their RFC 3339 text.
pub(crate) fn toml_to_json(value: toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("`{f}` is not a finite number"))?,
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(toml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| Ok((k, toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    tenant: String,
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    orgs: BTreeMap<String, RawOrg>,
    #[serde(default)]
    custom_policies: Vec<RawCustomPolicy>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    scopes: RawScopes,
}

/// `[[rules]]`: a CEL rule. The general keys are patrol's; the others are the `cel_rule`
/// policy's settings, checked by it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    expression: String,
    message: Option<String>,
    message_expression: Option<String>,
    code: Option<String>,
    operations: Option<Vec<String>>,
    params: Option<Map<String, Value>>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    on_error: OnError,
    #[serde(default)]
    allowlist: Allowlist,
    #[serde(default)]
    limits: LimitOverrides,
}

/// The most rules one tenant may have. Each is checked at load and judged on every request it
/// applies to; a tenant that needs more should merge rules, or write them as a component.
pub const MAX_RULES: usize = 64;

/// The operations a rule judges unless it says otherwise.
const DEFAULT_RULE_OPERATIONS: [Operation; 2] = [Operation::Create, Operation::Regenerate];

/// `[scopes]`: scope names a tenant accepts beyond the Azure DevOps catalogue.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScopes {
    #[serde(default)]
    extra: Vec<String>,
}

/// A built-in policy's table: the general keys, and the policy's own settings.
#[derive(Deserialize)]
struct RawPolicy {
    enabled: Option<bool>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    on_error: OnError,
    #[serde(default)]
    allowlist: Allowlist,
    #[serde(default)]
    limits: LimitOverrides,
    #[serde(flatten)]
    settings: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    #[serde(default)]
    entra_backed: bool,
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomPolicy {
    name: String,
    component: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    settings: Map<String, Value>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    on_error: OnError,
    #[serde(default)]
    allowlist: Allowlist,
    #[serde(default)]
    limits: LimitOverrides,
}

fn enabled_by_default() -> bool {
    true
}

/// The longest tenant, organization or custom policy name, in bytes.
const MAX_NAME_BYTES: usize = 64;

struct Resolver<'a> {
    origin: &'a str,
    base_dir: &'a Path,
}

impl<'a> Resolver<'a> {
    fn new(origin: &'a str, base_dir: &'a Path) -> Self {
        Resolver { origin, base_dir }
    }

    fn error(&self, field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.origin.to_string(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn resolve(&self, value: Value) -> Result<TenantConfig, ConfigError> {
        // serde would also accept a struct written as an array; a configuration is a table.
        if !value.is_object() {
            return Err(self.error("", "the configuration must be a table (a JSON object)"));
        }
        let mut raw: RawTenant = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            // Empty for the document itself (`.`), or for a key named "".
            let field = if path == "." { String::new() } else { path };
            self.error(field, serde_message::plain(&error.into_inner().to_string()))
        })?;
        if !is_name(&raw.tenant, false) {
            return Err(self.error("tenant", name_problem(&raw.tenant)));
        }
        let scopes = ScopeCatalogue::with_extra(std::mem::take(&mut raw.scopes.extra))
            .map_err(|(index, problem)| self.error(format!("scopes.extra[{index}]"), problem))?;
        let mut policies = Vec::new();
        for builtin in &BUILTIN_POLICIES {
            match builtin.level {
                PolicyLevel::Tenant => {
                    let location = format!("policies.{}", builtin.key);
                    let configured = raw.policies.remove(builtin.key);
                    if let Some(policy) = self.builtin(builtin, configured, location, None)? {
                        policies.push(policy);
                    }
                }
                PolicyLevel::Organization => {
                    for (org, raw_org) in &mut raw.orgs {
                        let location = format!("orgs.{org}.policies.{}", builtin.key);
                        let Some(configured) = raw_org.policies.remove(builtin.key) else {
                            continue;
                        };
                        if !raw_org.entra_backed {
                            return Err(self.error(
                                location,
                                format!(
                                    "`{}` is only available for organizations backed by \
                                     Microsoft Entra ID, and `{org}` is not (set \
                                     `orgs.{org}.entra_backed = true` if it is)",
                                    builtin.key
                                ),
                            ));
                        }
                        if let Some(policy) =
                            self.builtin(builtin, Some(configured), location, Some(org))?
                        {
                            policies.push(policy);
                        }
                    }
                }
            }
        }
        self.refuse_leftovers(&raw)?;
        let mut names = BTreeSet::new();
        for (index, custom) in raw.custom_policies.into_iter().enumerate() {
            let location = format!("custom_policies[{index}]");
            self.check_policy_name(&location, &custom.name, &mut names)?;
            let component = if custom.component.starts_with("sha256:") {
                let digest = Digest::parse(&custom.component).ok_or_else(|| {
                    self.error(
                        format!("{location}.component"),
                        format!(
                            "`{}` is not a digest: `sha256:` and 64 hex digits",
                            custom.component
                        ),
                    )
                })?;
                ComponentSource::Stored(digest)
            } else if custom.component.trim().is_empty() {
                return Err(self.error(
                    format!("{location}.component"),
                    "must name a component file, or a stored component by `sha256:` digest",
                ));
            } else {
                ComponentSource::File(self.base_dir.join(&custom.component))
            };
            self.check_allowlist(&location, &custom.allowlist)?;
            if !custom.enabled {
                continue;
            }
            policies.push(PolicyConfig {
                name: custom.name,
                org: None,
                component,
                settings: custom.settings,
                mode: custom.mode,
                on_error: custom.on_error,
                allowlist: custom.allowlist,
                limits: custom.limits,
                location,
                operations: None,
            });
        }
        if raw.rules.len() > MAX_RULES {
            return Err(self.error(
                format!("rules[{MAX_RULES}]"),
                format!(
                    "a tenant may have at most {MAX_RULES} rules, and this one has {}; merge \
                     rules, or write them as a component",
                    raw.rules.len()
                ),
            ));
        }
        for (index, rule) in raw.rules.into_iter().enumerate() {
            let location = format!("rules[{index}]");
            self.check_policy_name(&location, &rule.name, &mut names)?;
            if let Some(policy) = self.rule(rule, location)? {
                policies.push(policy);
            }
        }
        Ok(TenantConfig {
            tenant: raw.tenant,
            origin: self.origin.to_string(),
            policies,
            scopes,
        })
    }

    /// Checks a custom policy's or rule's name: well formed, not reserved, not taken.
    fn check_policy_name(
        &self,
        location: &str,
        name: &str,
        names: &mut BTreeSet<String>,
    ) -> Result<(), ConfigError> {
        let field = format!("{location}.name");
        if !is_name(name, true) {
            return Err(self.error(field, name_problem(name)));
        }
        if name.eq_ignore_ascii_case(crate::decision::PATROL) {
            return Err(self.error(
                field,
                format!(
                    "`{name}` is reserved: patrol reports its own rules (`tokenExpired`, \
                     `tokenNotValidForOrg`) under that name"
                ),
            ));
        }
        if builtin_policy(name).is_some() {
            return Err(self.error(field, format!("`{name}` is the name of a built-in policy")));
        }
        if !names.insert(name.to_string()) {
            return Err(self.error(
                field,
                format!("another custom policy or rule is already named `{name}`"),
            ));
        }
        Ok(())
    }

    /// A rule's configuration, or `None` when it is off: the `cel_rule` policy with the rule
    /// as its settings. The expression itself is checked by the policy, at load.
    fn rule(&self, rule: RawRule, location: String) -> Result<Option<PolicyConfig>, ConfigError> {
        let operations = match &rule.operations {
            None => DEFAULT_RULE_OPERATIONS.to_vec(),
            Some(names) if names.is_empty() => {
                return Err(self.error(
                    format!("{location}.operations"),
                    "is empty; list some of `create`, `regenerate`, `use`",
                ));
            }
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(i, name)| match name.as_str() {
                    "create" => Ok(Operation::Create),
                    "regenerate" => Ok(Operation::Regenerate),
                    "use" => Ok(Operation::Use),
                    "leak" => Err(self.error(
                        format!("{location}.operations[{i}]"),
                        "rules do not judge leaks; a leaked token is revoked by \
                         `revoke_leaked_pats`",
                    )),
                    other => Err(self.error(
                        format!("{location}.operations[{i}]"),
                        format!("unknown operation `{other}`; use `create`, `regenerate` or `use`"),
                    )),
                })
                .collect::<Result<_, _>>()?,
        };
        if let Some(code) = &rule.code
            && crate::decision::RESERVED_CODES.contains(&code.as_str())
        {
            return Err(self.error(
                format!("{location}.code"),
                format!("`{code}` is reserved for patrol's own violations; choose another code"),
            ));
        }
        self.check_allowlist(&location, &rule.allowlist)?;
        if !rule.enabled {
            return Ok(None);
        }
        let mut settings = Map::new();
        settings.insert("name".into(), Value::String(rule.name.clone()));
        settings.insert("expression".into(), Value::String(rule.expression));
        let optional = [
            ("message", rule.message),
            ("message_expression", rule.message_expression),
            ("code", rule.code),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                settings.insert(key.into(), Value::String(value));
            }
        }
        if let Some(names) = rule.operations {
            settings.insert("operations".into(), names.into());
        }
        if let Some(params) = rule.params {
            settings.insert("params".into(), Value::Object(params));
        }
        Ok(Some(PolicyConfig {
            name: rule.name,
            org: None,
            location,
            component: ComponentSource::Builtin(crate::builtin::CEL_RULE),
            settings,
            mode: rule.mode,
            on_error: rule.on_error,
            allowlist: rule.allowlist,
            limits: rule.limits,
            operations: Some(operations),
        }))
    }

    /// A built-in policy's configuration, or `None` when it is off.
    fn builtin(
        &self,
        builtin: &BuiltinPolicy,
        configured: Option<RawPolicy>,
        location: String,
        org: Option<&str>,
    ) -> Result<Option<PolicyConfig>, ConfigError> {
        let Some(raw) = configured else {
            return Ok(builtin.enabled_by_default.then(|| PolicyConfig {
                name: builtin.key.to_string(),
                org: None,
                location,
                component: ComponentSource::Builtin(builtin.key),
                settings: Map::new(),
                mode: Mode::default(),
                on_error: OnError::default(),
                allowlist: Allowlist::default(),
                limits: LimitOverrides::default(),
                operations: None,
            }));
        };
        let Some(enabled) = raw.enabled else {
            return Err(self.error(
                format!("{location}.enabled"),
                format!(
                    "is missing; set `enabled = true` to turn `{}` on, or `enabled = false` to \
                     keep it off",
                    builtin.key
                ),
            ));
        };
        self.check_allowlist(&location, &raw.allowlist)?;
        let mut settings = raw.settings;
        if let Some(org) = org {
            if settings.contains_key("org") {
                return Err(self.error(
                    format!("{location}.org"),
                    "is set by patrol to the organization's name; remove it",
                ));
            }
            settings.insert("org".to_string(), Value::String(org.to_string()));
        }
        Ok(enabled.then(|| PolicyConfig {
            name: builtin.key.to_string(),
            org: org.map(str::to_string),
            location,
            component: ComponentSource::Builtin(builtin.key),
            settings,
            mode: raw.mode,
            on_error: raw.on_error,
            allowlist: raw.allowlist,
            limits: raw.limits,
            operations: None,
        }))
    }

    /// Policies left after the built-ins were taken out: misplaced or unknown.
    fn refuse_leftovers(&self, raw: &RawTenant) -> Result<(), ConfigError> {
        let known = BUILTIN_POLICIES
            .iter()
            .map(|p| format!("`{}`", p.key))
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(key) = raw.policies.keys().next() {
            let problem = match builtin_policy(key) {
                Some(_) => format!(
                    "`{key}` is an organization policy; configure it under \
                     `[orgs.<org>.policies.{key}]`"
                ),
                None => format!(
                    "unknown policy `{key}`; the built-in policies are {known}, and custom \
                     policies go under `[[custom_policies]]`"
                ),
            };
            return Err(self.error(format!("policies.{key}"), problem));
        }
        for (org, raw_org) in &raw.orgs {
            if !is_name(org, false) {
                return Err(self.error(format!("orgs.{org}"), name_problem(org)));
            }
            if let Some(key) = raw_org.policies.keys().next() {
                let problem = match builtin_policy(key) {
                    Some(_) => {
                        format!("`{key}` is a tenant policy; configure it under `[policies.{key}]`")
                    }
                    None => format!("unknown organization policy `{key}`"),
                };
                return Err(self.error(format!("orgs.{org}.policies.{key}"), problem));
            }
        }
        Ok(())
    }

    fn check_allowlist(&self, location: &str, allowlist: &Allowlist) -> Result<(), ConfigError> {
        for (key, kind, ids) in [
            ("users", Kind::UserId, &allowlist.users),
            ("groups", Kind::GroupId, &allowlist.groups),
        ] {
            for (i, id) in ids.iter().enumerate() {
                identity::check(kind, id).map_err(|invalid| {
                    self.error(
                        format!("{location}.allowlist.{key}[{i}]"),
                        invalid.to_string(),
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// Whether `name` can name a tenant: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, starting
/// with a letter or digit.
pub fn valid_tenant_name(name: &str) -> bool {
    is_name(name, false)
}

/// Tenant and organization names: letters, digits, `.`, `_`, `-`, starting with a letter or
/// digit. Custom policy names (`lowercase`): the same, in lowercase.
fn is_name(name: &str, lowercase: bool) -> bool {
    name.len() <= MAX_NAME_BYTES
        && identity::is_ascii_name(name)
        && (!lowercase || !name.bytes().any(|b| b.is_ascii_uppercase()))
}

fn name_problem(name: &str) -> String {
    format!(
        "`{name}` is not a valid name: use 1 to {MAX_NAME_BYTES} ASCII letters, digits, `.`, `_` \
         or `-`, starting with a letter or digit (custom policy names in lowercase)"
    )
}
