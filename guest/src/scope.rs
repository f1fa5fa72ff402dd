//! Azure DevOps-style scopes: `app_token` for full access, otherwise `<family>[_<level>]`, as
//! in `vso.code`, `vso.code_write`, `vso.code_manage`, `vso.code_full`.
//!
//! Within a family a stronger scope includes the weaker ones. Levels rank
//! read (no suffix, or `_read`) < `_execute` < `_write` < `_manage` < `_full`, which orders
//! every ladder Azure DevOps documents (`vso.build` < `vso.build_execute`,
//! `vso.release` < `vso.release_execute` < `vso.release_manage`, ...).

/// The scope that grants full access to everything the owner can reach.
pub const FULL_ACCESS: &str = "app_token";

/// The packaging scopes, weakest first.
pub const PACKAGING: [&str; 3] = [
    "vso.packaging",
    "vso.packaging_write",
    "vso.packaging_manage",
];

/// How much a scope allows within its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No suffix, or `_read`.
    Read,
    /// `_execute`.
    Execute,
    /// `_write`.
    Write,
    /// `_manage`.
    Manage,
    /// `_full`.
    Full,
}

const SUFFIXES: [(&str, Level); 5] = [
    ("_read", Level::Read),
    ("_execute", Level::Execute),
    ("_write", Level::Write),
    ("_manage", Level::Manage),
    ("_full", Level::Full),
];

/// Splits a scope into its family and level: `vso.code_write` → (`vso.code`, `Write`).
/// `app_token` is its own family at level `Full`.
pub fn parse(scope: &str) -> (&str, Level) {
    if is_full_access(scope) {
        return (scope, Level::Full);
    }
    for (suffix, level) in SUFFIXES {
        if scope.len() > suffix.len() {
            let (family, tail) = scope.split_at(scope.len() - suffix.len());
            if tail.eq_ignore_ascii_case(suffix) {
                return (family, level);
            }
        }
    }
    (scope, Level::Read)
}

/// Whether `scope` is `app_token`, full access.
pub fn is_full_access(scope: &str) -> bool {
    scope.eq_ignore_ascii_case(FULL_ACCESS)
}

/// Whether `scope` is one of the packaging scopes.
pub fn is_packaging(scope: &str) -> bool {
    PACKAGING.iter().any(|p| p.eq_ignore_ascii_case(scope))
}

/// Whether `scope` only reads: no suffix or `_read`, and not full access.
pub fn is_read_only(scope: &str) -> bool {
    !is_full_access(scope) && parse(scope).1 == Level::Read
}

/// Whether holding `held` grants what `wanted` grants: full access grants everything, and
/// within a family a stronger level grants the weaker ones.
pub fn includes(held: &str, wanted: &str) -> bool {
    if is_full_access(held) {
        return true;
    }
    let (held_family, held_level) = parse(held);
    let (wanted_family, wanted_level) = parse(wanted);
    held_family.eq_ignore_ascii_case(wanted_family) && held_level >= wanted_level
}

/// Whether `scope` equals one of `list` (compared case-insensitively).
pub fn is_any_of<S: AsRef<str>>(scope: &str, list: &[S]) -> bool {
    list.iter().any(|s| s.as_ref().eq_ignore_ascii_case(scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_into_family_and_level() {
        assert_eq!(parse("vso.code"), ("vso.code", Level::Read));
        assert_eq!(parse("vso.code_write"), ("vso.code", Level::Write));
        assert_eq!(
            parse("vso.variablegroups_read"),
            ("vso.variablegroups", Level::Read)
        );
        assert_eq!(parse("vso.build_execute"), ("vso.build", Level::Execute));
        assert_eq!(parse("app_token"), ("app_token", Level::Full));
        assert_eq!(parse("_write"), ("_write", Level::Read));
    }

    #[test]
    fn stronger_scopes_include_weaker_ones_of_their_family() {
        assert!(includes("vso.code_full", "vso.code_write"));
        assert!(includes("vso.release_manage", "vso.release_execute"));
        assert!(!includes("vso.code", "vso.code_write"));
        assert!(!includes("vso.work_full", "vso.code"));
        assert!(includes("app_token", "vso.work_full"));
    }

    #[test]
    fn packaging_and_read_only_scopes_are_recognised() {
        assert!(is_packaging("vso.packaging_write"));
        assert!(!is_packaging("vso.packaging_admin"));
        assert!(is_read_only("vso.work"));
        assert!(!is_read_only("vso.work_write"));
        assert!(!is_read_only("app_token"));
        assert!(is_any_of("VSO.Code", &["vso.code"]));
    }
}
