//! Decisions: what patrol answers, and the record of how each policy contributed.
//!
//! ```json
//! { "allowed": false,
//!   "violations": [ { "policy": "max_pat_lifespan", "code": "patLifespanPolicyViolation",
//!                     "enforced": true,
//!                     "message": "requested lifespan 93 days exceeds the tenant maximum of 90 days" } ],
//!   "actions": [], "adjusted_valid_to": null }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::timestamp::{Timestamp, rfc3339};

/// The code of the violation reported when a policy fails instead of answering.
pub const POLICY_ERROR: &str = "policyError";
/// The code of a violation reporting a policy set aside for failing again and again: it is not
/// run, and its decisions fail closed (unless it has `on_error = "allow"`).
pub const POLICY_QUARANTINED: &str = "policyQuarantined";
/// The code reported when a used token has passed its `valid_to`.
pub const TOKEN_EXPIRED: &str = "tokenExpired";
/// The code reported when a token limited to some organizations is used in another.
pub const TOKEN_NOT_VALID_FOR_ORG: &str = "tokenNotValidForOrg";
/// The codes only patrol reports; a policy that returns one breaks the contract.
pub const RESERVED_CODES: [&str; 4] = [
    POLICY_ERROR,
    POLICY_QUARANTINED,
    TOKEN_EXPIRED,
    TOKEN_NOT_VALID_FOR_ORG,
];
/// The name under which patrol reports its own, always-on checks.
pub const PATROL: &str = "patrol";

/// patrol's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// True when no enforced violation was found.
    pub allowed: bool,
    /// Every violation from every policy, enforced or not, in configuration order.
    pub violations: Vec<ReportedViolation>,
    /// What the caller should do, in a fixed order, without repeats.
    pub actions: Vec<Action>,
    /// For `create` and `regenerate`: the shortened `valid_to` the token must be issued with.
    #[serde(serialize_with = "rfc3339::serialize_option")]
    pub adjusted_valid_to: Option<Timestamp>,
    /// How each configured policy took part; shown by `patrol eval --explain`.
    #[serde(skip)]
    pub trace: Vec<PolicyTrace>,
}

/// One violation, attributed to the policy that reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedViolation {
    /// The policy's name in the tenant configuration, or `patrol` for built-in checks.
    pub policy: Arc<str>,
    /// The machine-readable code, such as `patLifespanPolicyViolation` or `policyError`.
    pub code: String,
    /// False when the policy runs in audit mode, or fails open: reported, but not refusing.
    pub enforced: bool,
    /// A sentence for people.
    pub message: String,
    /// For `policyError`: what went wrong, such as `timeout` or `memory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorClass>,
}

/// Something the caller should do as a result of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Revoke the token now.
    RevokeToken,
    /// Tell the token's owner.
    NotifyOwner,
}

impl Action {
    /// The name used in decisions.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RevokeToken => "revoke_token",
            Action::NotifyOwner => "notify_owner",
        }
    }
}

/// Why a policy produced no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// It ran past its deadline.
    Timeout,
    /// It asked for more linear memory than its limit.
    Memory,
    /// It recursed past the stack limit.
    StackOverflow,
    /// It grew a table, or created instances, tables or memories, past their limits.
    Limit,
    /// It trapped: a panic, `unreachable`, an out-of-bounds access...
    Trap,
    /// What it returned is larger than the output limit.
    OutputTooLarge,
    /// What it returned breaks the contract (a malformed code, a later `valid_to`...).
    InvalidOutput,
    /// The host could not run it (for example, every instance slot was busy).
    Unavailable,
    /// It failed too often in a row and is set aside for a while, not run (see
    /// [`Quarantine`](crate::Quarantine)); reported with the code `policyQuarantined`.
    Quarantined,
}

impl ErrorClass {
    /// Every class, for documents that list them.
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::Timeout,
        ErrorClass::Memory,
        ErrorClass::StackOverflow,
        ErrorClass::Limit,
        ErrorClass::Trap,
        ErrorClass::OutputTooLarge,
        ErrorClass::InvalidOutput,
        ErrorClass::Unavailable,
        ErrorClass::Quarantined,
    ];

    /// The name used in decisions and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Memory => "memory",
            ErrorClass::StackOverflow => "stack_overflow",
            ErrorClass::Limit => "limit",
            ErrorClass::Trap => "trap",
            ErrorClass::OutputTooLarge => "output_too_large",
            ErrorClass::InvalidOutput => "invalid_output",
            ErrorClass::Unavailable => "unavailable",
            ErrorClass::Quarantined => "quarantined",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one configured policy took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyTrace {
    /// The policy's name in the configuration.
    pub policy: Arc<str>,
    /// For organization policies, the organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<Arc<str>>,
    /// What happened.
    pub outcome: TraceOutcome,
    /// Whether its violations refuse the request (`enforce`) or are only reported (`audit`).
    pub enforced: bool,
    /// Time spent on it, including its fresh instance.
    #[serde(serialize_with = "serialize_micros", rename = "time_us")]
    pub elapsed: Duration,
}

/// What one policy did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceOutcome {
    /// It does not judge this operation.
    NotApplicable,
    /// The user or one of their groups is on its allowlist.
    Exempt,
    /// It allowed the request.
    Allowed,
    /// It reported violations.
    Denied,
    /// It failed; see the `policyError` violation.
    Failed,
}

fn serialize_micros<S: serde::Serializer>(elapsed: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((elapsed.as_nanos() as f64 / 1000.0 * 10.0).round() / 10.0)
}

impl Decision {
    /// The decision as one line of JSON, in the documented shape.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| {
            format!(r#"{{"allowed":false,"error":"cannot encode the decision: {error}"}}"#)
        })
    }

    /// The enforced violations: the reasons the request is refused.
    pub fn enforced_violations(&self) -> impl Iterator<Item = &ReportedViolation> {
        self.violations.iter().filter(|v| v.enforced)
    }
}
