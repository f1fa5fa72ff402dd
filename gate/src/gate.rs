//! [`Gate::authenticate`]: the one function every front end calls.

use std::collections::HashMap;
use std::sync::Arc;

use patrol::Tenant;
use patrol::config::valid_tenant_name;
use patrol::identity::{self, Kind};
use patrol::timestamp::Timestamp;
use patrol_store::tokens::{AuthError, Client, DeniedUse, Tokens};

use crate::credentials::{self, Headers};
use crate::outcome::{Allowed, Outcome, Refusal, sendable};

/// Where the tenants a gate serves come from: a service's hot-reloaded map, or a fixed set.
pub trait TenantSource: Send + Sync {
    /// The tenant called `name`, if it is served.
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>>;
}

/// A fixed set of tenants, for an embedder that loads its tenants once.
#[derive(Default)]
pub struct Tenants(HashMap<String, Arc<Tenant>>);

impl Tenants {
    /// No tenants yet.
    pub fn new() -> Tenants {
        Tenants::default()
    }

    /// Serves `tenant` under its own name.
    pub fn with(mut self, tenant: Arc<Tenant>) -> Tenants {
        self.0.insert(tenant.name().to_string(), tenant);
        self
    }
}

impl TenantSource for Tenants {
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        self.0.get(name).cloned()
    }
}

/// What a gate reports, so that every front end counts and logs the same things. A service
/// counts metrics and writes its decision log; an embedder may log, or do nothing.
pub trait Observer: Send + Sync {
    /// Every authentication of a served tenant, by [`Outcome::label`].
    fn authentication(&self, tenant: &str, outcome: &Outcome);
    /// A token refused by the tenant's `use` policies (a 403, or a 401
    /// `token_not_valid_for_org`): the request built from the token and the decision, for a
    /// decision log and the violations report. The token's secret is not in it.
    fn refused_use(&self, tenant: &str, denied: &DeniedUse);
}

/// Observes nothing.
impl Observer for () {
    fn authentication(&self, _: &str, _: &Outcome) {}
    fn refused_use(&self, _: &str, _: &DeniedUse) {}
}

/// One request to authenticate, as a front end read it.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// The tenant's name.
    pub tenant: String,
    /// The organization the request is made in, and the field or header it came from (named
    /// in errors).
    pub org: Option<(String, String)>,
    /// The presented token.
    pub token: Option<String>,
    /// The client, as the gateway reports it.
    pub user_agent: Option<String>,
    /// The client's address, as the gateway reports it.
    pub address: Option<String>,
}

impl Attempt {
    /// The token, the user agent and the client's address from `headers`, the organization
    /// from `org` (its value and where it came from).
    pub fn from_headers(
        tenant: impl Into<String>,
        org: Option<(String, String)>,
        headers: &impl Headers,
    ) -> Attempt {
        Attempt {
            tenant: tenant.into(),
            org,
            token: credentials::presented_token(headers),
            user_agent: credentials::text(headers, "user-agent"),
            address: credentials::client_address(headers),
        }
    }
}

/// Authenticates tokens for a set of tenants: the one path behind every front end.
#[derive(Clone)]
pub struct Gate {
    tenants: Arc<dyn TenantSource>,
    tokens: Arc<Tokens>,
    observer: Arc<dyn Observer>,
}

impl Gate {
    /// A gate over `tenants`, their tokens in `tokens`, reporting to `observer`.
    pub fn new(
        tenants: Arc<dyn TenantSource>,
        tokens: Arc<Tokens>,
        observer: Arc<dyn Observer>,
    ) -> Gate {
        Gate {
            tenants,
            tokens,
            observer,
        }
    }

    /// The token store.
    pub fn tokens(&self) -> &Arc<Tokens> {
        &self.tokens
    }

    /// [`Gate::authenticate`] now, on tokio's blocking pool, for async front ends; a panic
    /// there is a 500 `internal` refusal, never an admission.
    pub async fn authenticate_blocking(&self, attempt: Attempt) -> Outcome {
        let gate = self.clone();
        tokio::task::spawn_blocking(move || gate.authenticate(attempt, patrol::timestamp::now()))
            .await
            .unwrap_or_else(|_| {
                Outcome::Refused(Refusal::new(
                    500,
                    "internal",
                    "authentication failed unexpectedly; the request is refused",
                ))
            })
    }

    /// Judges `attempt` at `now`. It reads the token store (SQLite, or the replica's cache
    /// and PostgreSQL), so it may block: call it where blocking is allowed (for example
    /// `tokio::task::spawn_blocking`).
    pub fn authenticate(&self, attempt: Attempt, now: Timestamp) -> Outcome {
        let Attempt {
            tenant: name,
            org,
            token,
            user_agent,
            address,
        } = attempt;
        if name.is_empty() {
            return Outcome::Refused(
                Refusal::new(
                    400,
                    "missing_tenant",
                    "name the tenant the request is for (the path, or the gateway's setting \
                     for it)",
                )
                .with_field("tenant"),
            );
        }
        if !valid_tenant_name(&name) {
            return Outcome::Refused(
                Refusal::new(
                    400,
                    "invalid_tenant_name",
                    format!(
                        "`{name}` is not a tenant name: use 1 to 64 ASCII letters, digits, `.`, \
                         `_` or `-`, starting with a letter or digit"
                    ),
                )
                .with_field("tenant"),
            );
        }
        let Some(tenant) = self.tenants.tenant(&name) else {
            // Not counted: metrics are labelled by tenant, and names are the caller's.
            return Outcome::Refused(Refusal::new(
                404,
                "unknown_tenant",
                format!("no tenant `{name}` is configured"),
            ));
        };
        let outcome = self.judge(
            &tenant,
            org,
            token,
            Client {
                user_agent,
                address,
            },
            now,
        );
        self.observer.authentication(&name, &outcome);
        outcome
    }

    fn judge(
        &self,
        tenant: &Tenant,
        org: Option<(String, String)>,
        token: Option<String>,
        client: Client,
        now: Timestamp,
    ) -> Outcome {
        let Some((org, field)) = org.filter(|(org, _)| !org.is_empty()) else {
            return Outcome::Refused(
                Refusal::new(
                    400,
                    "missing_org",
                    "name the organization the request is made in (the path, the \
                     `X-Patrol-Org` header, or the gateway's setting for it)",
                )
                .with_field(crate::ORG_HEADER),
            );
        };
        if let Err(invalid) = identity::check(Kind::Org, &org) {
            return Outcome::Refused(
                Refusal::new(400, "invalid_org", format!("`{field}`: {invalid}")).with_field(field),
            );
        }
        let Some(presented) = token else {
            return self.refused(tenant, AuthError::Missing);
        };
        match self
            .tokens
            .authenticate(tenant, &presented, &org, client, now)
        {
            Ok(authenticated) => {
                let allowed = Allowed {
                    tenant: tenant.name().to_string(),
                    token: authenticated.token,
                    decision: authenticated.decision,
                };
                // An upstream must never see an authenticated request without knowing whose
                // it is. (Identities are checked when tokens are issued, so this fails only
                // for a token stored by an older patrol that did not check them.)
                if let Some((name, _)) = allowed
                    .identity()
                    .iter()
                    .find(|(_, value)| !sendable(value))
                {
                    return Outcome::Refused(Refusal::new(
                        500,
                        "identity_unsendable",
                        format!(
                            "the token's identity cannot be sent in `{name}`; the request is \
                             refused"
                        ),
                    ));
                }
                Outcome::Allowed(Box::new(allowed))
            }
            Err(error) => self.refused(tenant, error),
        }
    }

    fn refused(&self, tenant: &Tenant, error: AuthError) -> Outcome {
        let (status, code) = match &error {
            AuthError::Missing => (401, "missing_token"),
            AuthError::Malformed(_) => (401, "malformed_token"),
            AuthError::Unknown => (401, "unknown_token"),
            AuthError::Revoked => (401, "revoked_token"),
            AuthError::Expired(_) => (401, "expired_token"),
            AuthError::NotValidForOrg(denied) => {
                self.observer.refused_use(tenant.name(), denied);
                let message = denied
                    .decision
                    .enforced_violations()
                    .next()
                    .map_or_else(|| error.to_string(), |violation| violation.message.clone());
                return Outcome::Refused(Refusal::new(401, "token_not_valid_for_org", message));
            }
            AuthError::Denied(denied) => {
                self.observer.refused_use(tenant.name(), denied);
                let decision = &denied.decision;
                let first = decision.enforced_violations().next();
                let code = first.map_or_else(|| "denied".to_string(), |v| v.code.clone());
                let message = first.map_or_else(|| error.to_string(), |v| v.message.clone());
                return Outcome::Refused(Refusal {
                    status: 403,
                    code,
                    message,
                    field: None,
                    decision: Some(decision.clone()),
                });
            }
            AuthError::Store(_) => {
                let code = if error.is_unavailable() {
                    (503, "database_unavailable")
                } else {
                    (500, "internal")
                };
                let message = if error.is_unavailable() {
                    format!(
                        "{}; nothing was changed, retry shortly",
                        patrol::with_causes(&error)
                    )
                } else {
                    patrol::with_causes(&error)
                };
                return Outcome::Refused(Refusal::new(code.0, code.1, message));
            }
        };
        Outcome::Refused(Refusal::new(status, code, error.to_string()))
    }
}
