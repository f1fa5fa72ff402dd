//! A token as patrol shows it to people and programs: Azure DevOps' `PatToken` (its field
//! names, scopes as one space-separated string, `targetAccounts` null for a global token), and
//! what patrol adds (owner, status, last use, revocation). The API and the CLI both print it.

use serde::Serialize;

use super::store::{TokenRecord, TokenStatus};
use patrol::timestamp::{Timestamp, format_rfc3339};

/// A token as the API shows it (Azure DevOps' `PatToken`, and what patrol adds).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatTokenView<'a> {
    /// The token's id.
    pub authorization_id: &'a str,
    /// Its name.
    pub display_name: &'a str,
    /// Space-separated, as Azure DevOps writes scopes.
    pub scope: String,
    /// `null` for a global token.
    pub target_accounts: Option<&'a [String]>,
    /// When it became valid (RFC 3339).
    pub valid_from: String,
    /// When it stops being valid (RFC 3339).
    pub valid_to: String,
    /// Only in the response that creates or regenerates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    /// Its owner.
    pub user: &'a str,
    /// Active, revoked or expired, now.
    pub status: TokenStatus,
    /// When it was created.
    pub created_at: String,
    /// When it last authenticated a request.
    pub last_used_at: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revocation_reason: Option<&'a str>,
}

impl<'a> PatTokenView<'a> {
    /// The view of `token`, with its secret when it has just been issued.
    pub fn of(token: &'a TokenRecord, secret: Option<&'a str>, now: Timestamp) -> Self {
        PatTokenView {
            authorization_id: &token.id,
            display_name: &token.display_name,
            scope: token.scopes.join(" "),
            target_accounts: (!token.all_orgs).then_some(&token.orgs[..]),
            valid_from: format_rfc3339(token.valid_from),
            valid_to: format_rfc3339(token.valid_to),
            token: secret,
            user: &token.owner,
            status: token.status(now),
            created_at: format_rfc3339(token.created_at),
            last_used_at: token.last_used_at.map(format_rfc3339),
            revoked_at: token.revoked_at.map(format_rfc3339),
            revocation_reason: token.revocation_reason.as_deref(),
        }
    }
}
