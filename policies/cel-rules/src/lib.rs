//! The `cel_rule` policy as a bundle: patrol evaluates every CEL rule of a tenant (those with
//! the host's default limits) in one fresh instance of this component and one call, instead
//! of one instance per rule. The instance builds CEL's standard environment once for all of
//! them. The rules are data for patrol's own interpreter, as the seed policies are patrol's
//! own code; a rule with limits of its own runs in an instance of `cel_rule` by itself.

patrol_guest::export_bundle!(; compiled cel_rule::CelRule);
