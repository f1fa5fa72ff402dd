//! The seed policies patrol ships, and the components built from the workspace.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/components.rs"));
}

/// Where a built-in policy is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyLevel {
    /// Under `[policies.<key>]`, for the whole tenant.
    Tenant,
    /// Under `[orgs.<org>.policies.<key>]`, for one organization.
    Organization,
}

/// One of the seed policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinPolicy {
    /// The configuration key, which is also the policy's name in decisions.
    pub key: &'static str,
    /// Where it is configured.
    pub level: PolicyLevel,
    /// Whether it is on when the configuration does not mention it.
    pub enabled_by_default: bool,
}

/// The five seed policies, in the order they are evaluated and reported.
pub const BUILTIN_POLICIES: [BuiltinPolicy; 5] = [
    BuiltinPolicy {
        key: "restrict_global_pat_creation",
        level: PolicyLevel::Tenant,
        enabled_by_default: false,
    },
    BuiltinPolicy {
        key: "restrict_full_scoped_pat_creation",
        level: PolicyLevel::Tenant,
        enabled_by_default: false,
    },
    BuiltinPolicy {
        key: "max_pat_lifespan",
        level: PolicyLevel::Tenant,
        enabled_by_default: false,
    },
    BuiltinPolicy {
        key: "revoke_leaked_pats",
        level: PolicyLevel::Tenant,
        enabled_by_default: true,
    },
    BuiltinPolicy {
        key: "restrict_pat_creation",
        level: PolicyLevel::Organization,
        enabled_by_default: false,
    },
];

/// The seed policy configured under `key`.
pub fn builtin_policy(key: &str) -> Option<&'static BuiltinPolicy> {
    BUILTIN_POLICIES.iter().find(|policy| policy.key == key)
}

/// The component of every `[[rules]]` entry, `policies/cel-rule`: a CEL expression as a policy.
pub(crate) const CEL_RULE: &str = "cel_rule";

/// The name of the seed bundle's component, `policies/seed-bundle`.
pub(crate) const SEED_BUNDLE: &str = "seed_bundle";

/// The name of the rules bundle's component, `policies/cel-rules`: [`CEL_RULE`] as a bundle, so
/// that one instance judges all of a tenant's rules.
pub(crate) const RULES_BUNDLE: &str = "cel_rules";

/// The bundle a built-in component's policy runs in when its limits are the host's, and its
/// name in that bundle.
pub(crate) fn bundle_of(component: &str) -> Option<(&'static str, &str)> {
    if builtin_policy(component).is_some() {
        Some((SEED_BUNDLE, component))
    } else if component == CEL_RULE {
        Some((RULES_BUNDLE, CEL_RULE))
    } else {
        None
    }
}

/// The component built from `policies/<name>` (with `-` written `_`), if there is one.
pub(crate) fn component_bytes(name: &str) -> Option<&'static [u8]> {
    generated::COMPONENTS
        .iter()
        .find(|(stem, _)| *stem == name)
        .map(|(_, bytes)| *bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_policy_has_a_component() {
        for policy in BUILTIN_POLICIES {
            assert!(component_bytes(policy.key).is_some(), "{}", policy.key);
        }
        assert!(component_bytes(SEED_BUNDLE).is_some());
        assert!(component_bytes(CEL_RULE).is_some());
        assert!(component_bytes(RULES_BUNDLE).is_some());
    }
}
