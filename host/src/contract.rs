//! What the contract requires of a component's answers. A component is untrusted, whatever it
//! claims: everything it returns is checked here before patrol uses it.

use crate::decision::{ErrorClass, RESERVED_CODES};
use crate::guest_text::{make_shown, shown};
use crate::request::Operation;
use crate::sandbox::PolicyFailure;
use crate::wit;

/// What a component says about itself, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentMetadata {
    /// The policy's own name.
    pub name: String,
    /// The policy's own version.
    pub version: String,
    /// One sentence on what it enforces.
    pub description: String,
    /// The operations it judges.
    pub operations: Vec<Operation>,
}

impl ComponentMetadata {
    /// Whether the policy judges `operation`.
    pub fn handles(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }
}

// How much a call may return is bounded while wasmtime copies it, not after: see
// `Sandbox::keep`, which gives every store the call's output limit as wasmtime's hostcall fuel.

/// A verdict as patrol keeps it: every message shown with its control characters visible and
/// cut at [`MAX_MESSAGE_BYTES`]. Codes are checked, not changed, by [`check_verdict`].
pub(crate) fn for_people(mut verdict: wit::Verdict) -> wit::Verdict {
    for violation in &mut verdict.violations {
        make_shown(&mut violation.message, MAX_MESSAGE_BYTES);
    }
    verdict
}

/// What `validate-settings` returned, with a refusal's message shown as [`for_people`] shows a
/// violation's.
pub(crate) fn prepared_for_people(
    answer: Result<wit::PreparedSettings, String>,
) -> Result<wit::PreparedSettings, String> {
    answer.map_err(|mut message| {
        make_shown(&mut message, MAX_MESSAGE_BYTES);
        message
    })
}

/// The longest violation code a policy may return, in bytes.
const MAX_CODE_BYTES: usize = 64;

/// The longest message patrol keeps from a policy (a violation's, or a refusal of settings), in
/// bytes; a longer one is cut there, with `…`.
pub const MAX_MESSAGE_BYTES: usize = 1024;

pub(crate) fn check_verdict(
    verdict: &wit::Verdict,
    request: &wit::RequestRef<'_>,
) -> Result<(), PolicyFailure> {
    let invalid = |detail: String| Err(PolicyFailure::new(ErrorClass::InvalidOutput, detail));
    for violation in &verdict.violations {
        let code = &violation.code;
        let well_formed = !code.is_empty()
            && code.len() <= MAX_CODE_BYTES
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !well_formed {
            return invalid(format!(
                "returned the violation code {}; codes are 1 to {MAX_CODE_BYTES} ASCII \
                 letters, digits, `.`, `_` or `-`",
                excerpt(code)
            ));
        }
        if RESERVED_CODES.contains(&code.as_str()) {
            return invalid(format!(
                "returned the code `{code}`, which only patrol may report"
            ));
        }
        if violation.message.trim().is_empty() {
            return invalid(format!("returned the code `{code}` without a message"));
        }
    }
    if let Some(adjusted) = verdict.adjusted_valid_to {
        let issuing = matches!(
            request.operation,
            wit::Operation::Create | wit::Operation::Regenerate
        );
        if !issuing {
            return invalid(
                "returned `adjusted-valid-to` for an operation that issues no token".into(),
            );
        }
        if adjusted <= request.token.valid_from.max(request.now)
            || adjusted > request.token.valid_to
        {
            return invalid(
                "returned an `adjusted-valid-to` outside the requested validity; it may only \
                 shorten the token's life"
                    .into(),
            );
        }
    }
    Ok(())
}

/// The longest policy name, in bytes.
pub const MAX_POLICY_NAME_BYTES: usize = 64;

pub(crate) fn check_metadata(raw: wit::PolicyMetadata) -> Result<ComponentMetadata, String> {
    if raw.name.is_empty()
        || raw.name.len() > MAX_POLICY_NAME_BYTES
        || !raw
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "the name {} is not 1 to {MAX_POLICY_NAME_BYTES} lowercase ASCII letters, digits, \
             `_` or `-`",
            excerpt(&raw.name)
        ));
    }
    if raw.version.is_empty()
        || raw.version.len() > 64
        || !raw.version.chars().all(crate::identity::is_printable)
    {
        return Err(format!(
            "the version {} is not 1 to 64 printable characters",
            excerpt(&raw.version)
        ));
    }
    if raw.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!(
            "the description is {} bytes long; the limit is {MAX_DESCRIPTION_BYTES}",
            raw.description.len()
        ));
    }
    if raw.operations.is_empty() {
        return Err("it names no operation to judge".to_string());
    }
    let mut operations: Vec<Operation> = raw.operations.into_iter().map(Operation::from).collect();
    operations.sort();
    operations.dedup();
    Ok(ComponentMetadata {
        name: raw.name,
        version: raw.version,
        description: shown(&raw.description, MAX_DESCRIPTION_BYTES),
        operations,
    })
}

/// The longest description a policy may give of itself, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;

/// A guest's string in an error message: quoted, control characters visible, at most 64 bytes.
fn excerpt(text: &str) -> String {
    format!("\"{}\"", shown(text, 64))
}

/// Checks what `validate-settings` returned: effective settings that are JSON.
pub(crate) fn check_prepared(
    answer: &Result<wit::PreparedSettings, String>,
) -> Result<(), PolicyFailure> {
    if let Ok(prepared) = answer
        && serde_json::from_str::<serde_json::Value>(&prepared.effective).is_err()
    {
        return Err(PolicyFailure::new(
            ErrorClass::InvalidOutput,
            "`validate-settings` returned effective settings that are not JSON",
        ));
    }
    Ok(())
}
