//! What the contract requires of a component's answers. A component is untrusted, whatever it
//! claims: everything it returns is checked here before patrol uses it.

use crate::component::ComponentMetadata;
use crate::decision::{ErrorClass, RESERVED_CODES};
use crate::limits::Limits;
use crate::request::Operation;
use crate::sandbox::PolicyFailure;
use crate::wit;

pub(crate) fn check_output_size(size: usize, limits: &Limits) -> Result<(), PolicyFailure> {
    if size > limits.output_bytes {
        return Err(PolicyFailure::new(
            ErrorClass::OutputTooLarge,
            format!(
                "returned {size} bytes; the limit is {} bytes",
                limits.output_bytes
            ),
        ));
    }
    Ok(())
}

/// The longest violation code a policy may return, in bytes.
const MAX_CODE_BYTES: usize = 64;

/// A verdict's size for the output limit. A few bytes count per item too, so that a million
/// empty violations is not "small".
pub(crate) fn verdict_size(verdict: &wit::Verdict) -> usize {
    verdict
        .violations
        .iter()
        .map(|v| v.code.len() + v.message.len() + 16)
        .sum::<usize>()
        + verdict.actions.len() * 4
}

pub(crate) fn check_verdict(
    verdict: &wit::Verdict,
    request: &wit::RequestRef<'_>,
    limits: &Limits,
) -> Result<(), PolicyFailure> {
    check_output_size(verdict_size(verdict), limits)?;
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
                "returned the violation code {code:?}; codes are 1 to {MAX_CODE_BYTES} ASCII \
                 letters, digits, `.`, `_` or `-`"
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
            "the name {:?} is not 1 to {MAX_POLICY_NAME_BYTES} lowercase ASCII letters, digits, \
             `_` or `-`",
            raw.name
        ));
    }
    if raw.version.is_empty() || raw.version.len() > 64 || raw.version.chars().any(char::is_control)
    {
        return Err(format!(
            "the version {:?} is not a short, printable string",
            raw.version
        ));
    }
    if raw.description.len() > 1024 {
        return Err("the description is longer than 1024 bytes".to_string());
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
        description: raw.description,
        operations,
    })
}

/// Checks what `validate-settings` returned: its size, and effective settings that are JSON.
pub(crate) fn check_prepared(
    answer: &Result<wit::PreparedSettings, String>,
    limits: &Limits,
) -> Result<(), PolicyFailure> {
    let size = match answer {
        Ok(prepared) => prepared.compiled.len() + prepared.effective.len(),
        Err(message) => message.len(),
    };
    check_output_size(size, limits)?;
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
