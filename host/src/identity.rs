//! The values that say who and where: user ids, group ids, organization names, scopes and token
//! display names. One validator for every way in (the decision API, the token lifecycle over
//! HTTP, the command line and MCP, the group directory, tenant configurations), so that a value
//! patrol accepts anywhere can be stored, compared, logged and sent back to a gateway as an HTTP
//! header everywhere.
//!
//! Every kind of value is printable text: no control characters (no newline, carriage return,
//! escape, bell, delete...), no invisible formatting characters that make text read other than
//! it is (bidirectional overrides, zero-width characters, line separators), no leading or
//! trailing whitespace, and a bounded length. On top of that:
//!
//! | kind | at most | also |
//! |---|---|---|
//! | user id | 256 bytes | no whitespace |
//! | group id | 256 bytes | |
//! | scope | 128 bytes | no whitespace (scopes travel space-separated) |
//! | organization | 64 bytes | ASCII letters, digits, `.`, `_`, `-`, starting with a letter or digit |
//! | display name | 256 bytes | |
//!
//! Lists are bounded too: a token has at most [`MAX_SCOPES`] scopes and [`MAX_ORGS`]
//! organizations, a user at most [`MAX_GROUPS`] groups in one request.

/// The most scopes one token may carry (the Azure DevOps catalogue has 86).
pub const MAX_SCOPES: usize = 100;
/// The most organizations one token may be limited to.
pub const MAX_ORGS: usize = 100;
/// The most groups one request may name for its user.
pub const MAX_GROUPS: usize = 256;

/// The organization of a request about no organization in particular (a leak, a dry run of a
/// global token): only tenant-wide policies apply to it. patrol makes such requests itself;
/// no caller may name it, neither as the organization of a request (a global token used "in
/// `*`" would skip every organization's policies) nor as one a token is limited to.
pub const ANY_ORG: &str = "*";

/// What a value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user's id, such as `bob@contoso.com`.
    UserId,
    /// A directory group's id.
    GroupId,
    /// A scope, such as `vso.code_write`.
    Scope,
    /// An organization's name.
    Org,
    /// A token's display name.
    DisplayName,
}

impl Kind {
    /// The longest value of this kind, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            Kind::UserId | Kind::GroupId | Kind::DisplayName => 256,
            Kind::Scope => 128,
            Kind::Org => 64,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::UserId => "a user id",
            Kind::GroupId => "a group id",
            Kind::Scope => "a scope",
            Kind::Org => "an organization name",
            Kind::DisplayName => "a display name",
        }
    }
}

/// Why a value cannot be used, in words that fit after the field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

impl Invalid {
    /// The problem, for people.
    pub fn problem(&self) -> &str {
        &self.0
    }
}

/// Checks one value of `kind`.
pub fn check(kind: Kind, value: &str) -> Result<(), Invalid> {
    let invalid = |problem: String| Err(Invalid(problem));
    if value.trim().is_empty() {
        return invalid("must not be empty".to_string());
    }
    if value.len() > kind.max_bytes() {
        return invalid(format!(
            "is {} bytes long; {} is at most {} bytes",
            value.len(),
            kind.noun(),
            kind.max_bytes()
        ));
    }
    if let Some(c) = value.chars().find(|&c| !is_printable(c)) {
        return invalid(format!(
            "contains the character {}, which is not printable text",
            c.escape_unicode()
        ));
    }
    if value.trim() != value {
        return invalid("must not begin or end with whitespace".to_string());
    }
    match kind {
        Kind::UserId | Kind::Scope if value.contains(char::is_whitespace) => invalid(format!(
            "`{value}` is not {}: it contains whitespace",
            kind.noun()
        )),
        Kind::Org if value == ANY_ORG => invalid(format!(
            "`{ANY_ORG}` is not an organization name: patrol uses it for requests about no \
             organization in particular (leak responses, dry runs); name the organization"
        )),
        Kind::Org if !is_ascii_name(value) => invalid(format!(
            "`{value}` is not an organization name: use ASCII letters, digits, `.`, `_` or `-`, \
             starting with a letter or digit"
        )),
        _ => Ok(()),
    }
}

/// Checks a list of values of `kind`, at most `max` of them; the error names the item.
pub fn check_list<S: AsRef<str>>(
    kind: Kind,
    values: &[S],
    max: usize,
) -> Result<(), (Option<usize>, Invalid)> {
    if values.len() > max {
        return Err((
            None,
            Invalid(format!("has {} items; the limit is {max}", values.len())),
        ));
    }
    for (index, value) in values.iter().enumerate() {
        check(kind, value.as_ref()).map_err(|invalid| (Some(index), invalid))?;
    }
    Ok(())
}

/// ASCII letters, digits, `.`, `_` and `-`, starting with a letter or digit: the names of
/// tenants and organizations (they appear in URL paths and file names).
pub fn is_ascii_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether `c` shows as itself: not a control character, and not one of the invisible
/// characters that reorder or hide text.
/// Whether `c` shows as itself: not a control character, nor an invisible formatting character
/// that makes text read other than it is. The one definition of printable for identities and
/// for text a guest chose ([`crate::guest_text`]).
pub(crate) fn is_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width spaces and joiners, directional marks
            | '\u{2028}'..='\u{202E}' // line and paragraph separators, bidirectional embeddings
            | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidirectional isolates
            | '\u{FEFF}'              // zero-width no-break space
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_values_pass() {
        for (kind, value) in [
            (Kind::UserId, "bob@contoso.com"),
            (Kind::UserId, "josé@contoso.com"),
            (Kind::GroupId, "Release Engineers"),
            (Kind::Scope, "vso.code_write"),
            (Kind::Org, "fabrikam-eu.2"),
            (Kind::DisplayName, "deploy pipeline (prod)"),
        ] {
            assert_eq!(check(kind, value), Ok(()), "{kind:?} {value}");
        }
    }

    #[test]
    fn what_cannot_travel_in_a_header_or_read_true_is_refused() {
        for (kind, value, problem) in [
            (Kind::UserId, "bob\n@contoso.com", "\\u{a}"),
            (Kind::Scope, "vso.code\u{7}", "\\u{7}"),
            (Kind::GroupId, "admins\u{202E}", "\\u{202e}"),
            (Kind::DisplayName, "\u{1b}[2J", "\\u{1b}"),
            (Kind::DisplayName, " padded", "whitespace"),
            (Kind::UserId, "bob smith", "whitespace"),
            (Kind::Scope, "vso.code vso.work", "whitespace"),
            (Kind::Org, "fabri/kam", "not an organization name"),
            (Kind::Org, "-fabrikam", "not an organization name"),
            (Kind::Org, "*", "not an organization name"),
            (Kind::UserId, "", "must not be empty"),
            (Kind::Scope, &"x".repeat(129), "at most 128 bytes"),
        ] {
            let error = check(kind, value).unwrap_err();
            assert!(error.problem().contains(problem), "{value:?}: {error}");
        }
    }

    #[test]
    fn lists_are_bounded_and_name_the_item_at_fault() {
        let scopes: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("s{i}")).collect();
        let (index, error) = check_list(Kind::Scope, &scopes, MAX_SCOPES).unwrap_err();
        assert_eq!(index, None);
        assert!(error.problem().contains("the limit is 100"));
        let (index, _) = check_list(Kind::Scope, &["a", "b\n"], MAX_SCOPES).unwrap_err();
        assert_eq!(index, Some(1));
    }
}
