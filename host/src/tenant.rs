//! A loaded tenant, and how it turns a request into a decision.
//!
//! For each request patrol first applies its own always-on rules (a `use` of an expired token
//! is refused with `tokenExpired`; a `leak` always notifies the owner), then asks every policy
//! that handles the operation, unless the user is on that policy's allowlist. The seed policies
//! with the host's default limits are judged together, in one fresh instance of the seed bundle
//! (see [`crate::bundle`]), and so are the tenant's CEL rules, in one instance of the rules
//! bundle; every other policy, custom policies above all, in a fresh instance
//! of its own. Every violation from every policy is reported, in configuration order;
//! audit-mode policies report without refusing; a policy that fails is reported as
//! `policyError` and refuses the request unless it is configured with `on_error = "allow"`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bundle::CompiledBundle;
use crate::component::CompiledComponent;
use crate::config::{Allowlist, ComponentSource, Mode, OnError, PolicyConfig, TenantConfig};
use crate::contract::ComponentMetadata;
use crate::decision::{
    Action, Decision, ErrorClass, PATROL, POLICY_ERROR, POLICY_QUARANTINED, PolicyTrace,
    ReportedViolation, TOKEN_EXPIRED, TOKEN_NOT_VALID_FOR_ORG, TraceOutcome,
};
use crate::digest::Digest;
use crate::engine::Engine;
use crate::limits::Limits;
use crate::quarantine::Quarantine;
use crate::quarantine::{Breaker, Quarantined};
use crate::request::{Operation, Request, RequestError};
use crate::sandbox::{PolicyFailure, Sandbox};
use crate::scopes::ScopeCatalogue;
use crate::timestamp::{Timestamp, format_rfc3339};
use crate::wit::{self, BundledCall, RequestRef};

/// A tenant whose policies are compiled and whose settings are validated: ready to judge.
#[derive(Debug)]
pub struct Tenant {
    /// Its name, also the key of its calls' admission (see [`crate::permits`]).
    name: Arc<str>,
    origin: String,
    policies: Vec<LoadedPolicy>,
    /// The bundles its policies run in (the seed bundle, the rules bundle), in the order they
    /// are asked.
    bundles: Vec<TenantBundle>,
    sandbox: Arc<Sandbox>,
    scopes: ScopeCatalogue,
}

/// A bundle some of a tenant's policies run in.
#[derive(Debug)]
struct TenantBundle {
    compiled: Arc<CompiledBundle>,
    /// The limits it runs under: the host's defaults.
    limits: Limits,
    /// For each operation, the bundle call that asks every bundled policy handling it: used as
    /// it is unless an allowlist exempts the user from one of them.
    plans: [BundlePlan; 4],
}

/// The bundled policies that judge one operation, and the call that asks them.
#[derive(Debug, Default)]
struct BundlePlan {
    /// Their positions in `Tenant::policies`.
    positions: Vec<usize>,
    calls: Vec<BundledCall>,
}

#[derive(Debug)]
struct LoadedPolicy {
    /// Shared with every decision that reports the policy, rather than copied into it.
    name: Arc<str>,
    org: Option<Arc<str>>,
    runner: Runner,
    /// The settings as the policy's `validate-settings` prepared them.
    compiled_settings: Vec<u8>,
    /// The settings after the policy's defaults, as JSON.
    effective_settings: String,
    mode: Mode,
    on_error: OnError,
    allowlist: Allowlist,
    limits: Limits,
    /// The operations the configuration narrows it to (a rule's `operations`); `None` for
    /// every operation its component handles.
    operations: Option<Vec<Operation>>,
    /// Sets the policy aside when it keeps failing; custom policies only (patrol's own seed
    /// policies do not time out or trap).
    breaker: Breaker,
}

impl LoadedPolicy {
    /// Whether the policy judges `operation`: its component handles it, and the configuration
    /// does not narrow it away.
    fn judges(&self, metadata: &ComponentMetadata, operation: Operation) -> bool {
        metadata.handles(operation)
            && self
                .operations
                .as_ref()
                .is_none_or(|operations| operations.contains(&operation))
    }
}

/// Where a policy runs.
#[derive(Debug)]
enum Runner {
    /// In a fresh instance of its own component.
    Own(Arc<CompiledComponent>),
    /// In an instance of one of the tenant's bundles (its position in `Tenant::bundles`), at
    /// this index.
    Bundled { bundle: usize, index: u32 },
}

/// A policy of a loaded tenant, as `patrol check` and `--explain` show it.
#[derive(Debug, Clone)]
pub struct PolicyInfo<'a> {
    /// Its name in decisions.
    pub name: &'a str,
    /// For organization policies, the organization.
    pub org: Option<&'a str>,
    /// The digest of the component it runs in.
    pub digest: Digest,
    /// Whether it runs in a bundle (the seed bundle, or the rules bundle), with the tenant's
    /// other policies of that bundle.
    pub bundled: bool,
    /// What its component says about it.
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
    /// The operations it judges: those its component handles, narrowed by the configuration.
    pub operations: Vec<Operation>,
}

/// A tenant that cannot be loaded: which policy, and why. (Boxed strings keep it small: it is
/// the error of every load.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: tenant `{tenant}`, {} `{policy}`{}: {problem}", kind_of(.field), org_suffix(.org))]
pub struct LoadError {
    /// Where the configuration came from.
    pub origin: Box<str>,
    /// The tenant.
    pub tenant: Box<str>,
    /// The policy at fault.
    pub policy: Box<str>,
    /// For organization policies, the organization.
    pub org: Option<Box<str>>,
    /// Where in the configuration the fault is, such as `policies.max_pat_lifespan` or
    /// `custom_policies[0].limits`.
    pub field: Box<str>,
    /// What is wrong.
    pub problem: Box<str>,
}

/// What the configuration calls the thing at `field`: a rule (`rules[0]`) or a policy.
fn kind_of(field: &str) -> &'static str {
    if field.starts_with("rules[") {
        "rule"
    } else {
        "policy"
    }
}

fn org_suffix(org: &Option<Box<str>>) -> String {
    org.as_ref()
        .map(|org| format!(" of organization `{org}`"))
        .unwrap_or_default()
}

fn load(engine: &Engine, config: &TenantConfig) -> Result<Tenant, LoadError> {
    let mut loader = Loader::new(engine, config);
    let policies = config
        .policies
        .iter()
        .map(|policy| loader.load(policy))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(loader.finish(policies))
}

/// Loads a tenant's policies one by one, sharing the bundles between them.
struct Loader<'a> {
    engine: &'a Engine,
    config: &'a TenantConfig,
    admission_key: Arc<str>,
    /// The bundles the policies loaded so far run in, by component name.
    bundles: Vec<(&'static str, Arc<CompiledBundle>)>,
}

impl<'a> Loader<'a> {
    fn new(engine: &'a Engine, config: &'a TenantConfig) -> Self {
        Loader {
            engine,
            config,
            admission_key: Arc::from(config.tenant.as_str()),
            bundles: Vec::new(),
        }
    }

    fn load(&mut self, policy: &PolicyConfig) -> Result<LoadedPolicy, LoadError> {
        let (engine, config) = (self.engine, self.config);
        let defaults = engine.config().limits;
        let admission_key = &self.admission_key;
        let error_in = |field: String, problem: String| LoadError {
            origin: config.origin.as_str().into(),
            tenant: config.tenant.as_str().into(),
            policy: policy.name.as_str().into(),
            org: policy.org.as_deref().map(Box::from),
            field: field.into(),
            problem: problem.into(),
        };
        let error = |problem: String| error_in(policy.location.clone(), problem);
        let limits = policy
            .limits
            .apply(defaults, &engine.config().ceilings)
            .map_err(|problem| {
                error_in(
                    format!("{}.limits", policy.location),
                    format!("`limits`: {problem}"),
                )
            })?;
        let settings_json = serde_json::Value::Object(policy.settings.clone()).to_string();
        let sandbox = engine.sandbox();
        let (runner, prepared) = match &policy.component {
            // A seed policy runs in the seed bundle, and a rule in the rules bundle, unless its
            // limits differ from the bundle's.
            ComponentSource::Builtin(key)
                if limits == defaults && engine.config().bundle_seed_policies =>
            {
                let (bundle_name, name) = crate::builtin::bundle_of(key)
                    .ok_or_else(|| error(format!("no bundle holds the built-in `{key}`")))?;
                let position = match self.bundles.iter().position(|(n, _)| *n == bundle_name) {
                    Some(position) => position,
                    None => {
                        let compiled = engine.bundle(bundle_name).map_err(error)?;
                        self.bundles.push((bundle_name, compiled));
                        self.bundles.len() - 1
                    }
                };
                let bundle = &self.bundles[position].1;
                let (index, _) = bundle.policy(name).ok_or_else(|| {
                    error(format!("the bundle `{bundle_name}` has no policy `{name}`"))
                })?;
                let prepared = bundle.validate_settings(
                    index,
                    &settings_json,
                    &limits,
                    admission_key,
                    sandbox,
                );
                (
                    Runner::Bundled {
                        bundle: position,
                        index,
                    },
                    prepared,
                )
            }
            source => {
                let component = engine.component_for(source, &limits).map_err(error)?;
                let prepared =
                    component.validate_settings(&settings_json, &limits, admission_key, sandbox);
                (Runner::Own(component), prepared)
            }
        };
        let prepared = prepared
            .map_err(|failure| error(format!("`validate-settings` failed: {failure}")))?
            .map_err(|problem| error(format!("invalid settings: {problem}")))?;
        Ok(loaded(
            policy,
            runner,
            prepared,
            limits,
            engine.config().quarantine,
        ))
    }

    fn finish(self, policies: Vec<LoadedPolicy>) -> Tenant {
        let defaults = self.engine.config().limits;
        let bundles = self
            .bundles
            .into_iter()
            .enumerate()
            .map(|(position, (_, compiled))| {
                let plans = Operation::ALL.map(|operation| {
                    let mut plan = BundlePlan::default();
                    for (at, policy) in policies.iter().enumerate() {
                        if let Runner::Bundled { bundle, index } = policy.runner
                            && bundle == position
                            && policy.judges(compiled.metadata(index), operation)
                        {
                            plan.positions.push(at);
                            plan.calls.push(BundledCall {
                                index,
                                settings: policy.compiled_settings.clone(),
                            });
                        }
                    }
                    plan
                });
                TenantBundle {
                    compiled,
                    limits: defaults,
                    plans,
                }
            })
            .collect();
        Tenant {
            name: self.admission_key,
            origin: self.config.origin.clone(),
            policies,
            bundles,
            sandbox: Arc::clone(self.engine.sandbox()),
            scopes: self.config.scopes.clone(),
        }
    }
}

fn loaded(
    policy: &PolicyConfig,
    runner: Runner,
    prepared: wit::PreparedSettings,
    limits: Limits,
    quarantine: Quarantine,
) -> LoadedPolicy {
    LoadedPolicy {
        name: Arc::from(policy.name.as_str()),
        org: policy.org.as_deref().map(Arc::from),
        runner,
        compiled_settings: prepared.compiled,
        effective_settings: prepared.effective,
        mode: policy.mode,
        on_error: policy.on_error,
        allowlist: policy.allowlist.clone(),
        limits,
        operations: policy.operations.clone(),
        breaker: Breaker::new(quarantine),
    }
}

impl Tenant {
    /// Loads a tenant: compiles its components on `engine` (or finds them compiled), and runs
    /// `validate-settings` for every policy, so that a tenant that loads judges every request.
    pub fn load(engine: &Engine, config: &TenantConfig) -> Result<Tenant, LoadError> {
        load(engine, config)
    }

    /// Loads a tenant as [`Tenant::load`] does, but goes on past a policy that fails: the
    /// tenant, or every error in configuration order. For `patrol check`, which reports every
    /// invalid policy or rule at once.
    pub fn load_every_policy(
        engine: &Engine,
        config: &TenantConfig,
    ) -> Result<Tenant, Vec<LoadError>> {
        let mut loader = Loader::new(engine, config);
        let (mut policies, mut errors) = (Vec::new(), Vec::new());
        for policy in &config.policies {
            match loader.load(policy) {
                Ok(loaded) => policies.push(loaded),
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok(loader.finish(policies))
        } else {
            Err(errors)
        }
    }

    /// The tenant's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its configuration came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The scopes its tokens may carry.
    pub fn scopes(&self) -> &ScopeCatalogue {
        &self.scopes
    }

    /// Checks what only the tenant can check of a request before it is judged: a token to be
    /// issued (`create`, `regenerate`) may carry only scopes the tenant accepts.
    pub fn check(&self, request: &Request) -> Result<(), RequestError> {
        if matches!(request.operation, Operation::Create | Operation::Regenerate)
            && let Err(unknown) = self.scopes.canonicalize(&request.token.scopes)
        {
            return Err(RequestError {
                field: format!("token.scopes[{}]", unknown.index),
                problem: unknown.to_string(),
            });
        }
        Ok(())
    }

    /// Its policies that are quarantined for failing again and again, by name (see
    /// [`Quarantine`]).
    pub fn quarantined(&self) -> Vec<(&str, Quarantined)> {
        self.policies
            .iter()
            .filter_map(|policy| Some((&*policy.name, policy.breaker.quarantined()?)))
            .collect()
    }

    /// Its policies, in evaluation order.
    pub fn policies(&self) -> impl Iterator<Item = PolicyInfo<'_>> {
        self.policies.iter().map(|policy| {
            let (digest, metadata) = self.component_of(policy);
            PolicyInfo {
                name: &policy.name,
                org: policy.org.as_deref(),
                digest,
                bundled: matches!(policy.runner, Runner::Bundled { .. }),
                metadata,
                effective_settings: &policy.effective_settings,
                mode: policy.mode,
                on_error: policy.on_error,
                allowlist: &policy.allowlist,
                limits: &policy.limits,
                operations: Operation::ALL
                    .into_iter()
                    .filter(|&operation| policy.judges(metadata, operation))
                    .collect(),
            }
        })
    }

    /// Whether this tenant's next policy call would wait for its turn or for a free call slot
    /// (see the crate's `permits` module), were it made now: other tenants are waiting, or
    /// this one holds its share. A hint, true at the moment it is asked: a pool of
    /// [`EvaluationThread`](crate::EvaluationThread)s uses it to hand a request that would
    /// wait to a thread that may wait, rather than wait itself while others queue behind it.
    pub fn calls_would_wait(&self) -> bool {
        self.sandbox.would_wait(&self.name)
    }

    /// Judges one request. Never fails: a policy that cannot answer is reported in the decision.
    pub fn evaluate(&self, request: &Request) -> Decision {
        let mut judgement = Judgement::default();
        judgement.apply_patrol_rules(request);
        let wit_request = RequestRef::of(request);
        // Which policies take part; the bundled ones are asked together, first.
        let parts: Vec<Part<'_>> = self
            .policies
            .iter()
            .map(|policy| self.part(policy, request))
            .collect();
        let mut bundled: Vec<_> = self
            .bundles
            .iter()
            .enumerate()
            .map(|(position, bundle)| {
                self.ask_bundle(bundle, position, request.operation, &parts, &wit_request)
                    .into_iter()
            })
            .collect();
        for (policy, part) in self.policies.iter().zip(&parts) {
            let (outcome, elapsed) = match part {
                Part::Skipped(outcome) => (*outcome, Duration::ZERO),
                Part::Bundled(bundle) => match bundled[*bundle].next() {
                    Some((answer, elapsed)) => (judgement.record(policy, answer), elapsed),
                    None => unreachable_bundle_answer(),
                },
                Part::Own(component) => {
                    let started = Instant::now();
                    let answer = policy.breaker.admit().and_then(|()| {
                        let answer = component.evaluate(
                            &policy.compiled_settings,
                            &wit_request,
                            &policy.limits,
                            &self.name,
                            &self.sandbox,
                        );
                        policy.breaker.record(&answer);
                        answer
                    });
                    (judgement.record(policy, answer), started.elapsed())
                }
            };
            judgement.trace.push(PolicyTrace {
                policy: Arc::clone(&policy.name),
                org: policy.org.clone(),
                outcome,
                enforced: policy.mode == Mode::Enforce,
                elapsed,
            });
        }
        judgement.finish()
    }

    fn part<'a>(&self, policy: &'a LoadedPolicy, request: &Request) -> Part<'a> {
        let (_, metadata) = self.component_of(policy);
        if !policy.judges(metadata, request.operation) {
            return Part::Skipped(TraceOutcome::NotApplicable);
        }
        if policy.allowlist.contains(&request.user) {
            return Part::Skipped(TraceOutcome::Exempt);
        }
        match &policy.runner {
            Runner::Own(component) => Part::Own(component),
            Runner::Bundled { bundle, .. } => Part::Bundled(*bundle),
        }
    }

    /// Asks `bundle` (at `position` in `Tenant::bundles`) for every part it runs, in one
    /// instance. Each answer comes with its share of the call's time.
    fn ask_bundle(
        &self,
        bundle: &TenantBundle,
        position: usize,
        operation: Operation,
        parts: &[Part<'_>],
        request: &RequestRef<'_>,
    ) -> Vec<(Result<wit::Verdict, PolicyFailure>, Duration)> {
        let plan = &bundle.plans[operation.index()];
        let asked = |part: &Part<'_>| matches!(part, Part::Bundled(b) if *b == position);
        let exempt = plan.positions.iter().any(|&at| !asked(&parts[at]));
        let filtered: Vec<BundledCall>;
        let calls = if exempt {
            filtered = plan
                .positions
                .iter()
                .zip(&plan.calls)
                .filter(|(at, _)| asked(&parts[**at]))
                .map(|(_, call)| call.clone())
                .collect();
            &filtered
        } else {
            &plan.calls
        };
        if calls.is_empty() {
            return Vec::new();
        }
        let started = Instant::now();
        let answer =
            bundle
                .compiled
                .evaluate(calls, request, &bundle.limits, &self.name, &self.sandbox);
        let share = started.elapsed() / u32::try_from(calls.len()).unwrap_or(u32::MAX);
        match answer {
            Ok(verdicts) => verdicts.into_iter().map(|v| (Ok(v), share)).collect(),
            Err(failure) => calls
                .iter()
                .map(|_| (Err(failure.clone()), share))
                .collect(),
        }
    }

    fn component_of<'a>(&'a self, policy: &'a LoadedPolicy) -> (Digest, &'a ComponentMetadata) {
        match &policy.runner {
            Runner::Own(component) => (component.digest(), component.metadata()),
            Runner::Bundled { bundle, index } => match self.bundles.get(*bundle) {
                Some(bundle) => (bundle.compiled.digest(), bundle.compiled.metadata(*index)),
                None => unreachable_bundle_answer(),
            },
        }
    }
}

/// How one policy takes part in a decision.
enum Part<'a> {
    Skipped(TraceOutcome),
    /// Asked in the bundle at this position in `Tenant::bundles`.
    Bundled(usize),
    Own(&'a CompiledComponent),
}

/// A tenant has a bundle whenever a policy is bundled, and the bundle answers every call it is
/// given (checked in [`CompiledBundle::evaluate`]).
fn unreachable_bundle_answer() -> ! {
    unreachable!("a bundled policy without a bundle answer")
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
            self.refuse_as_patrol(
                TOKEN_EXPIRED,
                format!(
                    "the token expired at {}",
                    format_rfc3339(request.token.valid_to)
                ),
            );
        }
        if request.operation == Operation::Use && !request.token.is_valid_in(&request.org) {
            self.refuse_as_patrol(
                TOKEN_NOT_VALID_FOR_ORG,
                format!(
                    "the token is limited to {}, not `{}`",
                    request.token.orgs_in_words(),
                    request.org
                ),
            );
        }
        if request.operation == Operation::Leak {
            // The owner of a leaked token always hears of it, whatever the policies say.
            self.actions.insert(Action::NotifyOwner);
        }
    }

    fn refuse_as_patrol(&mut self, code: &str, message: String) {
        self.violations.push(ReportedViolation {
            policy: Arc::from(PATROL),
            code: code.to_string(),
            enforced: true,
            message,
            error: None,
        });
    }

    /// Records one policy's answer.
    fn record(
        &mut self,
        policy: &LoadedPolicy,
        answer: Result<wit::Verdict, PolicyFailure>,
    ) -> TraceOutcome {
        let enforcing = policy.mode == Mode::Enforce;
        match answer {
            Ok(verdict) => {
                let allowed = verdict.violations.is_empty();
                for violation in verdict.violations {
                    self.violations.push(ReportedViolation {
                        policy: Arc::clone(&policy.name),
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
                let code = match failure.class {
                    ErrorClass::Quarantined => POLICY_QUARANTINED,
                    _ => POLICY_ERROR,
                };
                self.violations.push(ReportedViolation {
                    policy: Arc::clone(&policy.name),
                    code: code.to_string(),
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

impl From<wit::Action> for Action {
    fn from(action: wit::Action) -> Self {
        match action {
            wit::Action::RevokeToken => Action::RevokeToken,
            wit::Action::NotifyOwner => Action::NotifyOwner,
        }
    }
}
