//! A loaded tenant, and how it turns a request into a decision.
//!
//! For each request patrol first applies its own always-on rules (a `use` of an expired token
//! is refused with `tokenExpired`; a `leak` always notifies the owner), then asks every policy
//! that handles the operation, unless the user is on that policy's allowlist, each in its own
//! fresh instance. Every violation from every policy is reported; audit-mode policies report
//! without refusing; a policy that fails is reported as `policyError` and refuses the request
//! unless it is configured with `on_error = "allow"`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use crate::component::{CompiledComponent, ComponentMetadata, Digest};
use crate::config::{Allowlist, Mode, OnError, TenantConfig};
use crate::decision::{
    Action, Decision, PATROL, POLICY_ERROR, PolicyTrace, ReportedViolation, TOKEN_EXPIRED,
    TraceOutcome,
};
use crate::engine::Engine;
use crate::limits::Limits;
use crate::request::{Operation, Request};
use crate::sandbox::Sandbox;
use crate::timestamp::{Timestamp, format_rfc3339};
use crate::wit;

/// A tenant whose policies are compiled and whose settings are validated: ready to judge.
#[derive(Debug)]
pub struct Tenant {
    name: String,
    origin: String,
    policies: Vec<LoadedPolicy>,
    sandbox: Arc<Sandbox>,
}

#[derive(Debug)]
struct LoadedPolicy {
    name: String,
    org: Option<String>,
    component: Arc<CompiledComponent>,
    /// The settings as the component's `validate-settings` prepared them.
    compiled_settings: Vec<u8>,
    /// The settings after the component's defaults, as JSON.
    effective_settings: String,
    mode: Mode,
    on_error: OnError,
    allowlist: Allowlist,
    limits: Limits,
}

/// A policy of a loaded tenant, as `patrol check` and `--explain` show it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInfo<'a> {
    /// Its name in decisions.
    pub name: &'a str,
    /// For organization policies, the organization.
    pub org: Option<&'a str>,
    /// Its component's digest.
    pub digest: Digest,
    /// Its component's size in bytes.
    pub component_size: usize,
    /// What its component says about itself.
    pub metadata: &'a ComponentMetadata,
    /// Its settings after defaults, as JSON.
    pub effective_settings: &'a str,
    /// Enforce or audit.
    pub mode: Mode,
    /// Fail closed or open.
    pub on_error: OnError,
    /// Who is exempt.
    pub allowlist: &'a Allowlist,
    /// The limits it runs under.
    pub limits: &'a Limits,
}

/// A tenant that cannot be loaded: which policy, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: tenant `{tenant}`, policy `{policy}`{}: {problem}", org_suffix(.org))]
pub struct LoadError {
    /// Where the configuration came from.
    pub origin: String,
    /// The tenant.
    pub tenant: String,
    /// The policy at fault.
    pub policy: String,
    /// For organization policies, the organization.
    pub org: Option<String>,
    /// What is wrong.
    pub problem: String,
}

fn org_suffix(org: &Option<String>) -> String {
    org.as_ref()
        .map(|org| format!(" of organization `{org}`"))
        .unwrap_or_default()
}

pub(crate) fn load(engine: &Engine, config: &TenantConfig) -> Result<Tenant, LoadError> {
    let mut policies = Vec::with_capacity(config.policies.len());
    for policy in &config.policies {
        let error = |problem: String| LoadError {
            origin: config.origin.clone(),
            tenant: config.tenant.clone(),
            policy: policy.name.clone(),
            org: policy.org.clone(),
            problem,
        };
        let limits = policy
            .limits
            .apply(engine.config().limits)
            .map_err(|problem| error(format!("`limits`: {problem}")))?;
        let component = engine
            .component_for(&policy.component, &limits)
            .map_err(error)?;
        let settings_json = serde_json::Value::Object(policy.settings.clone()).to_string();
        let prepared = component
            .validate_settings(&settings_json, &limits, engine.sandbox())
            .map_err(|failure| error(format!("`validate-settings` failed: {failure}")))?
            .map_err(|problem| error(format!("invalid settings: {problem}")))?;
        policies.push(LoadedPolicy {
            name: policy.name.clone(),
            org: policy.org.clone(),
            component,
            compiled_settings: prepared.compiled,
            effective_settings: prepared.effective,
            mode: policy.mode,
            on_error: policy.on_error,
            allowlist: policy.allowlist.clone(),
            limits,
        });
    }
    Ok(Tenant {
        name: config.tenant.clone(),
        origin: config.origin.clone(),
        policies,
        sandbox: Arc::clone(engine.sandbox()),
    })
}

impl Tenant {
    /// The tenant's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its configuration came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Its policies, in evaluation order.
    pub fn policies(&self) -> impl Iterator<Item = PolicyInfo<'_>> {
        self.policies.iter().map(|policy| PolicyInfo {
            name: &policy.name,
            org: policy.org.as_deref(),
            digest: policy.component.digest(),
            component_size: policy.component.size(),
            metadata: policy.component.metadata(),
            effective_settings: &policy.effective_settings,
            mode: policy.mode,
            on_error: policy.on_error,
            allowlist: &policy.allowlist,
            limits: &policy.limits,
        })
    }

    /// Judges one request. Never fails: a policy that cannot answer is reported in the decision.
    pub fn evaluate(&self, request: &Request) -> Decision {
        let mut judgement = Judgement::default();
        judgement.apply_patrol_rules(request);
        let wit_request = wit_request(request);
        for policy in &self.policies {
            let started = Instant::now();
            let outcome = if !policy.component.metadata().handles(request.operation) {
                TraceOutcome::NotApplicable
            } else if policy.allowlist.contains(&request.user) {
                TraceOutcome::Exempt
            } else {
                judgement.ask(policy, &wit_request, &self.sandbox)
            };
            judgement.trace.push(PolicyTrace {
                policy: policy.name.clone(),
                org: policy.org.clone(),
                outcome,
                enforced: policy.mode == Mode::Enforce,
                elapsed: started.elapsed(),
            });
        }
        judgement.finish()
    }
}

/// A decision being assembled.
#[derive(Default)]
struct Judgement {
    violations: Vec<ReportedViolation>,
    actions: BTreeSet<Action>,
    adjusted_valid_to: Option<Timestamp>,
    trace: Vec<PolicyTrace>,
}

impl Judgement {
    fn apply_patrol_rules(&mut self, request: &Request) {
        if request.operation == Operation::Use && request.token.valid_to <= request.now {
            self.violations.push(ReportedViolation {
                policy: PATROL.to_string(),
                code: TOKEN_EXPIRED.to_string(),
                enforced: true,
                message: format!(
                    "the token expired at {}",
                    format_rfc3339(request.token.valid_to)
                ),
                error: None,
            });
        }
        if request.operation == Operation::Leak {
            // The owner of a leaked token always hears of it, whatever the policies say.
            self.actions.insert(Action::NotifyOwner);
        }
    }

    fn ask(
        &mut self,
        policy: &LoadedPolicy,
        request: &wit::Request,
        sandbox: &Sandbox,
    ) -> TraceOutcome {
        let enforcing = policy.mode == Mode::Enforce;
        match policy
            .component
            .evaluate(&policy.compiled_settings, request, &policy.limits, sandbox)
        {
            Ok(verdict) => {
                let allowed = verdict.violations.is_empty();
                for violation in verdict.violations {
                    self.violations.push(ReportedViolation {
                        policy: policy.name.clone(),
                        code: violation.code,
                        enforced: enforcing,
                        message: violation.message,
                        error: None,
                    });
                }
                if enforcing {
                    self.actions
                        .extend(verdict.actions.into_iter().map(Action::from));
                    if let Some(adjusted) = verdict.adjusted_valid_to {
                        let earliest = self.adjusted_valid_to.map_or(adjusted, |t| t.min(adjusted));
                        self.adjusted_valid_to = Some(earliest);
                    }
                }
                if allowed {
                    TraceOutcome::Allowed
                } else {
                    TraceOutcome::Denied
                }
            }
            Err(failure) => {
                self.violations.push(ReportedViolation {
                    policy: policy.name.clone(),
                    code: POLICY_ERROR.to_string(),
                    enforced: enforcing && policy.on_error == OnError::Deny,
                    message: format!("policy `{}` failed: {failure}", policy.name),
                    error: Some(failure.class),
                });
                TraceOutcome::Failed
            }
        }
    }

    fn finish(self) -> Decision {
        let allowed = !self.violations.iter().any(|v| v.enforced);
        Decision {
            allowed,
            violations: self.violations,
            actions: self.actions.into_iter().collect(),
            adjusted_valid_to: self.adjusted_valid_to.filter(|_| allowed),
            trace: self.trace,
        }
    }
}

fn wit_request(request: &Request) -> wit::Request {
    wit::Request {
        operation: request.operation.into(),
        now: request.now,
        org: request.org.clone(),
        user: wit::Actor {
            id: request.user.id.clone(),
            groups: request.user.groups.clone(),
        },
        token: wit::Token {
            scopes: request.token.scopes.clone(),
            all_orgs: request.token.all_orgs,
            orgs: request.token.orgs.clone(),
            valid_from: request.token.valid_from,
            valid_to: request.token.valid_to,
        },
    }
}

impl From<wit::Action> for Action {
    fn from(action: wit::Action) -> Self {
        match action {
            wit::Action::RevokeToken => Action::RevokeToken,
            wit::Action::NotifyOwner => Action::NotifyOwner,
        }
    }
}
