//! Questions policies ask about a request: who, which organizations, how long.

use serde::{Deserialize, Serialize};

use crate::{Actor, Operation, Request, Timestamp, Token};

impl Request {
    /// Whether the request asks for a token to be issued: `create` or `regenerate`.
    pub fn is_issuance(&self) -> bool {
        matches!(self.operation, Operation::Create | Operation::Regenerate)
    }
}

impl Actor {
    /// Whether this is the user `id` (compared case-insensitively).
    pub fn is_user(&self, id: &str) -> bool {
        self.id.eq_ignore_ascii_case(id)
    }

    /// Whether the user belongs to `group` (compared case-insensitively).
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g.eq_ignore_ascii_case(group))
    }

    /// Whether the user belongs to at least one of `groups`.
    pub fn in_any_group<S: AsRef<str>>(&self, groups: &[S]) -> bool {
        groups.iter().any(|group| self.in_group(group.as_ref()))
    }
}

impl Token {
    /// Whether the token can be used in `org`: it lists `org`, or it is a global token and `org`
    /// is the organization the request is made in (`request_org`).
    pub fn targets_org(&self, org: &str, request_org: &str) -> bool {
        self.orgs.iter().any(|o| o.eq_ignore_ascii_case(org))
            || (self.all_orgs && org.eq_ignore_ascii_case(request_org))
    }

    /// Seconds from `now` until the token stops being valid (negative once it has expired).
    pub fn remaining_lifespan(&self, now: Timestamp) -> i64 {
        self.valid_to.saturating_sub(now)
    }

    /// Whether the token carries `scope` exactly (compared case-insensitively).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope))
    }
}

/// Users and groups, matched the way patrol matches every policy's allowlist: user ids and
/// group ids case-insensitively, and a user matches when any of their groups is listed.
///
/// The host applies each policy's configured `allowlist` itself; use this type for lists of
/// your own, such as "members of these groups may not ...".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// User ids, for example `alice@contoso.com`.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group ids, for example `release-engineers`.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Allowlist {
    /// Whether `actor` is listed by id or through one of their groups.
    pub fn contains(&self, actor: &Actor) -> bool {
        self.users.iter().any(|user| actor.is_user(user)) || actor.in_any_group(&self.groups)
    }

    /// Whether the list names nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: &str, groups: &[&str]) -> Actor {
        Actor {
            id: id.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn token(all_orgs: bool, orgs: &[&str]) -> Token {
        Token {
            scopes: vec!["vso.code".to_string()],
            all_orgs,
            orgs: orgs.iter().map(|o| o.to_string()).collect(),
            valid_from: 0,
            valid_to: 100,
        }
    }

    #[test]
    fn allowlists_match_users_and_groups_case_insensitively() {
        let list = Allowlist {
            users: vec!["Alice@Contoso.com".into()],
            groups: vec!["PAT-Admins".into()],
        };
        assert!(list.contains(&actor("alice@contoso.com", &[])));
        assert!(list.contains(&actor("bob@contoso.com", &["eng", "pat-admins"])));
        assert!(!list.contains(&actor("bob@contoso.com", &["eng"])));
        assert!(!Allowlist::default().contains(&actor("alice@contoso.com", &[])));
    }

    #[test]
    fn a_token_targets_listed_orgs_and_global_tokens_target_the_request_org() {
        assert!(token(false, &["Fabrikam"]).targets_org("fabrikam", "contoso"));
        assert!(!token(false, &["contoso"]).targets_org("fabrikam", "fabrikam"));
        assert!(token(true, &[]).targets_org("fabrikam", "fabrikam"));
        assert!(!token(true, &[]).targets_org("fabrikam", "contoso"));
        assert_eq!(token(true, &[]).remaining_lifespan(40), 60);
    }
}
