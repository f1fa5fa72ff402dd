//! What a gateway is told: admitted with an identity, or refused with a status and a reason.

use patrol::Decision;
use patrol::timestamp::format_rfc3339;
use patrol_store::tokens::TokenRecord;
use serde_json::{Value, json};

/// The header naming the organization a request is made in.
pub const ORG_HEADER: &str = "x-patrol-org";
/// The authenticated user, when admitted.
pub const USER_HEADER: &str = "x-patrol-user";
/// The token's id, when admitted.
pub const TOKEN_ID_HEADER: &str = "x-patrol-token-id";
/// The token's scopes, space-separated, when admitted.
pub const SCOPES_HEADER: &str = "x-patrol-scopes";
/// The tenant, when admitted.
pub const TENANT_HEADER: &str = "x-patrol-tenant";
/// Why a token was refused, as a code, on every refusal (for gateways that drop the body).
pub const REASON_HEADER: &str = "x-patrol-reason";
/// The `WWW-Authenticate` challenge sent with a 401.
pub const CHALLENGE: &str = "Basic realm=\"patrol\", Bearer realm=\"patrol\"";

/// The identity headers an admitted request carries upstream. A gateway must drop any header
/// of these names the client sent itself and set these instead.
pub const IDENTITY_HEADERS: [&str; 4] =
    [USER_HEADER, TOKEN_ID_HEADER, SCOPES_HEADER, TENANT_HEADER];

/// The answer of [`Gate::authenticate`](crate::Gate::authenticate).
#[derive(Debug)]
pub enum Outcome {
    /// The token may be used here (boxed: a token record and a decision are large).
    Allowed(Box<Allowed>),
    /// It may not, or the request cannot be judged.
    Refused(Refusal),
}

/// An admitted request: whose token it is.
#[derive(Debug)]
pub struct Allowed {
    /// The tenant the token belongs to.
    pub tenant: String,
    /// The token (its secret is never stored, so never here).
    pub token: TokenRecord,
    /// The tenant's `use` decision, allowed.
    pub decision: Decision,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The HTTP status a gateway answers the client with: 400 (no or an invalid organization
    /// or tenant name), 401 (no valid token here), 403 (the tenant's `use` policies refuse
    /// it), 404 (no such tenant), 500 or 503 (patrol's fault; 503 when retrying may help).
    pub status: u16,
    /// The reason, as a code: `missing_token`, `malformed_token`, `unknown_token`,
    /// `revoked_token`, `expired_token`, `token_not_valid_for_org`, a policy's violation code
    /// (403), `missing_org`, `invalid_org`, `invalid_tenant_name`, `unknown_tenant`,
    /// `database_unavailable`, `shutting_down`, `internal`.
    pub code: String,
    /// What a person reads.
    pub message: String,
    /// The field or header at fault, for a 400.
    pub field: Option<String>,
    /// The refusing decision, for a 403.
    pub decision: Option<Decision>,
}

impl Refusal {
    /// A refusal with no field and no decision.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            decision: None,
        }
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Refusal {
        self.field = Some(field.into());
        self
    }

    /// The service is stopping; another instance should be asked.
    pub fn shutting_down() -> Refusal {
        Refusal::new(
            503,
            "shutting_down",
            "the service is shutting down; retry on another instance",
        )
    }
}

impl Outcome {
    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Outcome::Allowed(_))
    }

    /// The HTTP status: 200, or the refusal's.
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Allowed(_) => 200,
            Outcome::Refused(refusal) => refusal.status,
        }
    }

    /// The outcome as one code, as metrics count it: `authenticated`, `denied` (the tenant's
    /// `use` policies refused the token), or the refusal's code.
    pub fn label(&self) -> &str {
        match self {
            Outcome::Allowed(_) => "authenticated",
            Outcome::Refused(refusal) if refusal.status == 403 => "denied",
            Outcome::Refused(refusal) => &refusal.code,
        }
    }

    /// The headers to send: the identity (admitted; for the upstream), or the reason
    /// (refused; for the client, with the challenge on a 401).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Outcome::Allowed(allowed) => allowed.identity().to_vec(),
            Outcome::Refused(refusal) => {
                let mut headers = vec![(REASON_HEADER, refusal.code.clone())];
                if refusal.status == 401 {
                    headers.push(("www-authenticate", CHALLENGE.to_string()));
                }
                headers
            }
        }
    }

    /// The outcome as an HTTP answer: its status, its [`headers`](Outcome::headers) and its
    /// JSON [`body`](Outcome::body), for a front end that answers over HTTP itself
    /// (forward-auth, the tower layer).
    pub fn to_http<B: From<String>>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body().to_string()));
        *response.status_mut() = http::StatusCode::from_u16(self.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.headers() {
            // Identities that cannot travel as headers were refused by the gate.
            if let Ok(value) = http::HeaderValue::try_from(value) {
                headers.insert(http::HeaderName::from_static(name), value);
            }
        }
        response
    }

    /// The JSON body: the identity and the decision (admitted); `{"error": {"code",
    /// "message", "field"}}`, with the decision on a 403 (refused).
    pub fn body(&self) -> Value {
        match self {
            Outcome::Allowed(allowed) => {
                let token = &allowed.token;
                json!({
                    "tenant": allowed.tenant,
                    "user": token.owner,
                    "tokenId": token.id,
                    "scopes": token.scopes,
                    "validTo": format_rfc3339(token.valid_to),
                    "decision": allowed.decision,
                })
            }
            Outcome::Refused(refusal) => {
                let mut error = json!({ "code": refusal.code, "message": refusal.message });
                if let Some(field) = &refusal.field {
                    error["field"] = json!(field);
                }
                let mut body = json!({ "error": error });
                if let Some(decision) = &refusal.decision {
                    body["decision"] = json!(decision);
                }
                body
            }
        }
    }
}

impl Allowed {
    /// The identity headers, by name: user, token id, scopes (space-separated), tenant.
    pub fn identity(&self) -> [(&'static str, String); 4] {
        let token = &self.token;
        [
            (USER_HEADER, token.owner.clone()),
            (TOKEN_ID_HEADER, token.id.clone()),
            (SCOPES_HEADER, token.scopes.join(" ")),
            (TENANT_HEADER, self.tenant.clone()),
        ]
    }
}

/// Whether `value` can be sent as an HTTP header value (the `http` crate's rule, which hyper
/// and Envoy share: no control characters but tab).
pub(crate) fn sendable(value: &str) -> bool {
    http::HeaderValue::from_str(value).is_ok()
}
