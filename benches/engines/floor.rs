//! The floor: the six rules as plain Rust functions, natively compiled and called directly,
//! with no isolation at all. They are the very policy crates patrol builds into components,
//! linked as ordinary libraries, with the host's operation and allowlist checks done inline.

use max_pat_lifespan::MaxPatLifespan;
use patrol_guest::{Actor, Allowlist, NoSettings, Operation, Policy, Request, Token};
use restrict_full_scoped_pat_creation::RestrictFullScopedPatCreation;
use restrict_global_pat_creation::RestrictGlobalPatCreation;
use restrict_pat_creation::RestrictPatCreation;
use revoke_leaked_pats::RevokeLeakedPats;
use write_scopes_short_lived::WriteScopesShortLived;

use super::Judge;

/// The benchmark tenant's rules as Rust values.
pub struct Floor {
    global_allowlist: Allowlist,
    restrict_allowlist: Allowlist,
    nobody: Allowlist,
    lifespan: max_pat_lifespan::Settings,
    restrict: restrict_pat_creation::Settings,
    write: write_scopes_short_lived::Settings,
}

impl Floor {
    pub fn new() -> Self {
        let groups = |group: &str| Allowlist {
            users: Vec::new(),
            groups: vec![group.to_string()],
        };
        Floor {
            global_allowlist: groups("pat-admins"),
            restrict_allowlist: groups("release-engineers"),
            nobody: Allowlist::default(),
            lifespan: max_pat_lifespan::Settings {
                max_days: 90,
                clamp: false,
            },
            restrict: restrict_pat_creation::Settings {
                org: "fabrikam".to_string(),
                allow_packaging_scope_only: true,
            },
            write: write_scopes_short_lived::Settings { max_days: 30 },
        }
    }
}

/// Runs one rule, as the host would: only for the operations it judges, and not for the users
/// its allowlist exempts.
fn apply<P: Policy>(
    settings: &P::Settings,
    allowlist: &Allowlist,
    request: &Request,
    codes: &mut Vec<String>,
) {
    if P::OPERATIONS.contains(&request.operation) && !allowlist.contains(&request.user) {
        let verdict = P::evaluate(settings, request);
        codes.extend(verdict.violations.into_iter().map(|v| v.code));
    }
}

impl Judge for Floor {
    fn judge(&mut self, request: &patrol::Request) -> Vec<String> {
        let request = Request {
            operation: match request.operation {
                patrol::Operation::Create => Operation::Create,
                patrol::Operation::Regenerate => Operation::Regenerate,
                patrol::Operation::Use => Operation::Use,
                patrol::Operation::Leak => Operation::Leak,
            },
            now: request.now,
            org: request.org.clone(),
            user: Actor {
                id: request.user.id.clone(),
                groups: request.user.groups.clone(),
            },
            token: Token {
                scopes: request.token.scopes.clone(),
                all_orgs: request.token.all_orgs,
                orgs: request.token.orgs.clone(),
                valid_from: request.token.valid_from,
                valid_to: request.token.valid_to,
            },
        };
        let mut codes = Vec::new();
        let none = NoSettings {};
        apply::<RestrictGlobalPatCreation>(&none, &self.global_allowlist, &request, &mut codes);
        apply::<RestrictFullScopedPatCreation>(&none, &self.nobody, &request, &mut codes);
        apply::<MaxPatLifespan>(&self.lifespan, &self.nobody, &request, &mut codes);
        apply::<RevokeLeakedPats>(&none, &self.nobody, &request, &mut codes);
        apply::<RestrictPatCreation>(
            &self.restrict,
            &self.restrict_allowlist,
            &request,
            &mut codes,
        );
        apply::<WriteScopesShortLived>(&self.write, &self.nobody, &request, &mut codes);
        codes
    }
}
