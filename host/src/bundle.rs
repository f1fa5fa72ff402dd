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

use wasmtime::component::ComponentExportIndex;

use crate::ahead::Instantiable;
use crate::cache::Compiler;
use crate::component::{
    ComponentError, call_export, check_export_type, export_function, instantiate_pre, loading,
};
use crate::contract::{self, ComponentMetadata};
use crate::decision::ErrorClass;
use crate::digest::Digest;
use crate::limits::Limits;
use crate::sandbox::{PolicyFailure, Sandbox};
use crate::wit::{self, BundledCall, RequestRef, SeedBundlePre};

/// The bundle's interface in a component's exports.
const BUNDLE_INTERFACE: &str = "patrol:policy/bundle@0.1.0";

/// The seed bundle, compiled and ready to instantiate.
pub(crate) struct CompiledBundle {
    digest: Digest,
    pre: Instantiable,
    /// The `validate-settings` export, resolved and type-checked once.
    validate_settings: ComponentExportIndex,
    /// The `evaluate` export, resolved and type-checked once.
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
        sandbox: &Arc<Sandbox>,
    ) -> Result<Self, ComponentError> {
        let pre = instantiate_pre(compiler, bytes, max_size, BUNDLE_INTERFACE)?;
        // The generated bindings check the whole interface's types against the contract; the
        // calls themselves go through the resolved indices (see [`call_export`]).
        SeedBundlePre::new(pre.clone()).map_err(|error| {
            ComponentError::WrongExport(BUNDLE_INTERFACE.to_string(), format!("{error:#}"))
        })?;
        let policies_export = export_function(&pre, BUNDLE_INTERFACE, "policies")?;
        let validate_settings = export_function(&pre, BUNDLE_INTERFACE, "validate-settings")?;
        let evaluate = export_function(&pre, BUNDLE_INTERFACE, "evaluate")?;
        {
            let (mut store, instance) = sandbox
                .keep(&pre, limits)
                .map_err(ComponentError::MetadataFailed)?;
            let store = &mut store;
            check_export_type::<(), (Vec<wit::PolicyMetadata>,)>(
                store,
                &instance,
                &policies_export,
                BUNDLE_INTERFACE,
            )?;
            check_export_type::<(u32, &str), (Result<wit::PreparedSettings, String>,)>(
                store,
                &instance,
                &validate_settings,
                BUNDLE_INTERFACE,
            )?;
            check_export_type::<(&[BundledCall], &RequestRef<'_>), (Vec<wit::Verdict>,)>(
                store,
                &instance,
                &evaluate,
                BUNDLE_INTERFACE,
            )?;
        }
        let pre = Instantiable::new(pre);
        let raw = sandbox
            .run(&pre, limits, &loading(), |store, instance| {
                // SAFETY: checked above.
                let (policies,) = unsafe {
                    call_export::<(), (Vec<wit::PolicyMetadata>,)>(
                        store,
                        instance,
                        &policies_export,
                        (),
                    )
                }?;
                Ok(policies)
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
            validate_settings,
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
        sandbox: &Arc<Sandbox>,
    ) -> Result<Result<wit::PreparedSettings, String>, PolicyFailure> {
        let answer = sandbox.run(&self.pre, limits, tenant, |store, instance| {
            // SAFETY: `compile` checked the export's type, and `instance` is of the bundle.
            let (answer,) = unsafe {
                call_export::<(u32, &str), (Result<wit::PreparedSettings, String>,)>(
                    store,
                    instance,
                    &self.validate_settings,
                    (index, settings_json),
                )
            }?;
            Ok(answer)
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
        sandbox: &Arc<Sandbox>,
    ) -> Result<Vec<wit::Verdict>, PolicyFailure> {
        let verdicts = sandbox.run(&self.pre, limits, tenant, |store, instance| {
            // SAFETY: `compile` checked the export's type, and `instance` is of the bundle.
            let (verdicts,) = unsafe {
                call_export::<(&[BundledCall], &RequestRef<'_>), (Vec<wit::Verdict>,)>(
                    store,
                    instance,
                    &self.evaluate,
                    (calls, request),
                )
            }?;
            Ok(verdicts)
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
