//! The scopes a token may carry: the Azure DevOps catalogue, and the extra names a tenant
//! allows for other platforms.
//!
//! [`AZURE_DEVOPS`] is every `vso.*` scope of Microsoft's published scope reference
//! ("OAuth 2.0 Authentication for Azure DevOps REST APIs", the table of available scopes as of
//! 2025-07), plus `app_token`, which is what a full-access PAT carries. Scopes Microsoft has
//! retired (`vso.loadtest`, `vso.chat_*`, `vso.graph_write`) are not in it, nor is
//! `user_impersonation`, the Entra ID form of full access, which no PAT carries.
//!
//! Microsoft adds scopes from time to time, and other platforms have scopes of their own
//! (GitLab's `api`, `read_repository`...): a tenant names them in its configuration,
//!
//! ```toml
//! [scopes]
//! extra = ["read_api", "api"]
//! ```
//!
//! and a token may then carry them too. Names compare case-insensitively; a token is stored
//! with the catalogue's spelling.

use crate::identity::{self, Kind};

/// The scope of a full-access token.
pub const FULL_ACCESS: &str = "app_token";

/// Every scope of the Azure DevOps catalogue, by family.
pub const AZURE_DEVOPS: &[&str] = &[
    FULL_ACCESS,
    // Advanced Security
    "vso.advsec",
    "vso.advsec_write",
    "vso.advsec_manage",
    // Agent pools, environments, deployment groups
    "vso.agentpools",
    "vso.agentpools_manage",
    "vso.environment_manage",
    "vso.machinegroup_manage",
    // Analytics, auditing
    "vso.analytics",
    "vso.auditlog",
    "vso.auditstreams_manage",
    // Build
    "vso.build",
    "vso.build_execute",
    // Code
    "vso.code",
    "vso.code_write",
    "vso.code_manage",
    "vso.code_full",
    "vso.code_status",
    "vso.threads_full",
    // Connected server, entitlements
    "vso.connected_server",
    "vso.entitlements",
    "vso.memberentitlementmanagement",
    "vso.memberentitlementmanagement_write",
    // Extensions
    "vso.extension",
    "vso.extension_manage",
    "vso.extension.data",
    "vso.extension.data_write",
    // GitHub connections
    "vso.githubconnections",
    "vso.githubconnections_manage",
    // Graph and identity
    "vso.graph",
    "vso.graph_manage",
    "vso.identity",
    "vso.identity_manage",
    // Marketplace
    "vso.gallery",
    "vso.gallery_acquire",
    "vso.gallery_publish",
    "vso.gallery_manage",
    // Notifications
    "vso.notification",
    "vso.notification_write",
    "vso.notification_manage",
    "vso.notification_diagnostics",
    // Packaging
    "vso.packaging",
    "vso.packaging_write",
    "vso.packaging_manage",
    // Pipeline resources
    "vso.pipelineresources_use",
    "vso.pipelineresources_manage",
    // Project and team
    "vso.project",
    "vso.project_write",
    "vso.project_manage",
    // Release
    "vso.release",
    "vso.release_execute",
    "vso.release_manage",
    // Secure files, security
    "vso.securefiles_read",
    "vso.securefiles_write",
    "vso.securefiles_manage",
    "vso.security_manage",
    // Service connections
    "vso.serviceendpoint",
    "vso.serviceendpoint_query",
    "vso.serviceendpoint_manage",
    // Service hooks
    "vso.hooks",
    "vso.hooks_write",
    "vso.hooks_interact",
    // Settings
    "vso.settings",
    "vso.settings_write",
    // Symbols
    "vso.symbols",
    "vso.symbols_write",
    "vso.symbols_manage",
    // Task groups
    "vso.taskgroups_read",
    "vso.taskgroups_write",
    "vso.taskgroups_manage",
    // Team dashboards
    "vso.dashboards",
    "vso.dashboards_manage",
    // Test management
    "vso.test",
    "vso.test_write",
    // Tokens
    "vso.tokens",
    "vso.tokenadministration",
    // User profile
    "vso.profile",
    "vso.profile_write",
    // Variable groups
    "vso.variablegroups_read",
    "vso.variablegroups_write",
    "vso.variablegroups_manage",
    // Wiki
    "vso.wiki",
    "vso.wiki_write",
    // Work items
    "vso.work",
    "vso.work_write",
    "vso.work_full",
];

/// The scopes one tenant accepts: the catalogue and its own extra names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeCatalogue {
    extra: Vec<String>,
}

impl ScopeCatalogue {
    /// The Azure DevOps catalogue and `extra`, each checked as a scope name; the error names
    /// the item at fault.
    pub fn with_extra(extra: Vec<String>) -> Result<ScopeCatalogue, (usize, String)> {
        for (index, name) in extra.iter().enumerate() {
            identity::check(Kind::Scope, name).map_err(|invalid| (index, invalid.to_string()))?;
        }
        Ok(ScopeCatalogue { extra })
    }

    /// The extra names, as configured.
    pub fn extra(&self) -> &[String] {
        &self.extra
    }

    /// The catalogue's spelling of `scope`, or `None` when the tenant does not accept it.
    pub fn canonical<'a>(&'a self, scope: &str) -> Option<&'a str> {
        AZURE_DEVOPS
            .iter()
            .copied()
            .chain(self.extra.iter().map(String::as_str))
            .find(|known| known.eq_ignore_ascii_case(scope))
    }

    /// `scopes` in the catalogue's spelling, without repeats, in the order given; the first
    /// unknown scope is the error.
    pub fn canonicalize<S: AsRef<str>>(&self, scopes: &[S]) -> Result<Vec<String>, UnknownScope> {
        let mut canonical: Vec<String> = Vec::with_capacity(scopes.len());
        for (index, scope) in scopes.iter().enumerate() {
            let scope = scope.as_ref();
            let known = self.canonical(scope).ok_or_else(|| UnknownScope {
                index,
                scope: scope.to_string(),
            })?;
            if !canonical.iter().any(|seen| seen == known) {
                canonical.push(known.to_string());
            }
        }
        Ok(canonical)
    }
}

/// A scope the tenant does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope `{scope}`: not an Azure DevOps scope (such as `vso.code` or `app_token`) nor \
     one of the tenant's `scopes.extra`"
)]
pub struct UnknownScope {
    /// Its position in the list.
    pub index: usize,
    /// The scope as given.
    pub scope: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_holds_valid_distinct_names() {
        assert_eq!(AZURE_DEVOPS.len(), 86);
        for (i, scope) in AZURE_DEVOPS.iter().enumerate() {
            identity::check(Kind::Scope, scope).unwrap();
            assert!(!AZURE_DEVOPS[..i].contains(scope), "{scope} twice");
        }
    }

    #[test]
    fn scopes_are_canonicalized_and_unknown_ones_named() {
        let catalogue = ScopeCatalogue::with_extra(vec!["read_api".to_string()]).unwrap();
        assert_eq!(
            catalogue
                .canonicalize(&["VSO.Code", "read_api", "vso.code"])
                .unwrap(),
            ["vso.code", "read_api"]
        );
        let unknown = catalogue
            .canonicalize(&["vso.code", "vso.cod"])
            .unwrap_err();
        assert_eq!((unknown.index, unknown.scope.as_str()), (1, "vso.cod"));
        assert!(ScopeCatalogue::default().canonical("read_api").is_none());
        assert_eq!(
            ScopeCatalogue::with_extra(vec!["ok".into(), "not ok".into()])
                .unwrap_err()
                .0,
            1
        );
    }
}
