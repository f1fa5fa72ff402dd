//! The five seed policies in one component. patrol evaluates every seed policy a request needs
//! in one fresh instance of this component, instead of one instance per policy: they are
//! patrol's own trusted code, and instances are what a decision's time goes to. Tenant-supplied
//! policies always get an instance of their own.
//!
//! The host finds each policy by the name in its metadata, not by its position here.

patrol_guest::export_bundle!(
    restrict_global_pat_creation::RestrictGlobalPatCreation,
    restrict_full_scoped_pat_creation::RestrictFullScopedPatCreation,
    max_pat_lifespan::MaxPatLifespan,
    revoke_leaked_pats::RevokeLeakedPats,
    restrict_pat_creation::RestrictPatCreation,
);
