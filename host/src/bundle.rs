//! The seed bundle: patrol's five seed policies in one component (`policies/seed-bundle`), so
//! that every seed policy a request needs is judged in one fresh instance and one call.
//!
//! The bundle is patrol's own trusted code. A tenant's custom policies never share an instance
//! with anything, so nothing they do can change another policy's verdict. A seed policy with
//! its own `limits` runs in its own component too, since limits are per instance.
//!
//! If the bundle's instance fails (it should not), every seed policy it was judging for the
//! request is reported as failed.

use std::fmt;
use std::sync::Arc;

use wasmtime::component::{ComponentExportIndex, TypedFunc};

use crate::cache::Compiler;
use crate::component::{
    ComponentError, ComponentMetadata, Digest, check_evaluate_type, export_function,
    instantiate_pre, loading,
};
use crate::contract;
use crate::decision::ErrorClass;
use crate::limits::Limits;
use crate::sandbox::{PolicyFailure, Sandbox, StoreState};
use crate::wit::{self, BundledCall, RequestRef, SeedBundlePre};

/// The bundle's interface in a component's exports.
const BUNDLE_INTERFACE: &str = "patrol:policy/bundle@0.1.0";

/// The seed bundle, compiled and ready to instantiate.
pub(crate) struct CompiledBundle {
    digest: Digest,
    pre: SeedBundlePre<StoreState>,
    /// The `evaluate` export, resolved once.
    evaluate: ComponentExportIndex,
    /// The bundled policies, by index.
    policies: Vec<ComponentMetadata>,
}

impl fmt::Debug for CompiledBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledBundle")
            .field("digest", &self.digest)
            .field("policies", &self.policies)
            .finish()
    }
}

impl CompiledBundle {
    /// Checks and compiles the bundle, and asks it for its policies.
    pub(crate) fn compile(
        compiler: &Compiler<'_>,
        bytes: &[u8],
        max_size: usize,
        limits: &Limits,
        sandbox: &Sandbox,
    ) -> Result<Self, ComponentError> {
        let pre = instantiate_pre(compiler, bytes, max_size, BUNDLE_INTERFACE)?;
        let pre = SeedBundlePre::new(pre).map_err(|error| {
            ComponentError::WrongExport(BUNDLE_INTERFACE.to_string(), format!("{error:#}"))
        })?;
        let evaluate = export_function(pre.instance_pre(), BUNDLE_INTERFACE, "evaluate")?;
        check_evaluate_type::<(&[BundledCall], &RequestRef<'_>), (Vec<wit::Verdict>,)>(
            pre.instance_pre(),
            &evaluate,
            BUNDLE_INTERFACE,
            limits,
            sandbox,
        )?;
        let raw = sandbox
            .run(&pre, limits, &loading(), |store, instance| {
                instance.patrol_policy_bundle().call_policies(store)
            })
            .map_err(ComponentError::MetadataFailed)?;
        let policies = raw
            .into_iter()
            .map(contract::check_metadata)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ComponentError::InvalidMetadata)?;
        Ok(CompiledBundle {
            digest: Digest::of(bytes),
            pre,
            evaluate,
            policies,
        })
    }

    /// The bundle's digest.
    pub(crate) fn digest(&self) -> Digest {
        self.digest
    }

    /// The index of the policy called `name`, and its metadata.
    pub(crate) fn policy(&self, name: &str) -> Option<(u32, &ComponentMetadata)> {
        self.policies
            .iter()
            .enumerate()
            .find(|(_, metadata)| metadata.name == name)
            .and_then(|(index, metadata)| Some((u32::try_from(index).ok()?, metadata)))
    }

    /// The metadata of the policy at `index`, which [`CompiledBundle::policy`] gave out.
    pub(crate) fn metadata(&self, index: u32) -> &ComponentMetadata {
        &self.policies[index as usize]
    }

    /// Runs `validate-settings` of the policy at `index`; see
    /// [`CompiledComponent::validate_settings`](crate::CompiledComponent).
    pub(crate) fn validate_settings(
        &self,
        index: u32,
        settings_json: &str,
        limits: &Limits,
        tenant: &Arc<str>,
        sandbox: &Sandbox,
    ) -> Result<Result<wit::PreparedSettings, String>, PolicyFailure> {
        let answer = sandbox.run(&self.pre, limits, tenant, |store, instance| {
            instance
                .patrol_policy_bundle()
                .call_validate_settings(store, index, settings_json)
        })?;
        contract::check_prepared(&answer)?;
        Ok(contract::prepared_for_people(answer))
    }

    /// Judges `request` with each of `calls` in one instance; one checked verdict per call.
    pub(crate) fn evaluate(
        &self,
        calls: &[BundledCall],
        request: &RequestRef<'_>,
        limits: &Limits,
        tenant: &Arc<str>,
        sandbox: &Sandbox,
    ) -> Result<Vec<wit::Verdict>, PolicyFailure> {
        let verdicts = sandbox.run(self.pre.instance_pre(), limits, tenant, |store, instance| {
            let evaluate = instance
                .get_func(&mut *store, self.evaluate)
                .ok_or_else(|| wasmtime::Error::msg("the `evaluate` export is missing"))?;
            // SAFETY: `compile` checked that the bundle's `evaluate` export has exactly this
            // type, and `instance` is of the bundle.
            let evaluate = unsafe {
                TypedFunc::<(&[BundledCall], &RequestRef<'_>), (Vec<wit::Verdict>,)>::new_unchecked(
                    evaluate,
                )
            };
            Ok(evaluate.call(store, (calls, request))?.0)
        })?;
        if verdicts.len() != calls.len() {
            return Err(PolicyFailure::new(
                ErrorClass::InvalidOutput,
                format!(
                    "the seed bundle returned {} verdicts for {} policies",
                    verdicts.len(),
                    calls.len()
                ),
            ));
        }
        for verdict in &verdicts {
            contract::check_verdict(verdict, request)?;
        }
        Ok(verdicts.into_iter().map(contract::for_people).collect())
    }
}
