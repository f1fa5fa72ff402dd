//! Compiled components cached on disk, so that a restarted host loads its tenants in
//! milliseconds instead of compiling every component again.
//!
//! An artifact is what wasmtime's `Component::serialize` wrote for one component, compiled by
//! one engine. Its file name is the SHA-256 of the component's digest, the engine's
//! compatibility hash (its configuration and wasmtime's version) and patrol's engine variant,
//! so an artifact is only ever loaded into an engine that could have written it. Artifacts are
//! loaded with wasmtime's `unsafe` `Component::deserialize_file`, which trusts the file: patrol
//! only loads files from its own cache directory, written by itself (atomically, so a crash
//! leaves no half-written artifact), and keeps that directory private to its user.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;

use crate::digest::Digest;
use crate::files::write_atomically;
use crate::runtime::Variant;

/// How components are compiled for one engine: with the artifact cache, if the host has one.
pub(crate) struct Compiler<'a> {
    pub(crate) engine: &'a wasmtime::Engine,
    pub(crate) cache: Option<&'a ArtifactCache>,
    pub(crate) variant: Variant,
}

impl Compiler<'_> {
    /// Compiles `bytes`, or loads them compiled from the cache.
    pub(crate) fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        match self.cache {
            Some(cache) => cache.component(self.engine, bytes, &Digest::of(bytes), self.variant),
            None => Component::new(self.engine, bytes),
        }
    }
}

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
}

/// Feeds `Hash` output into SHA-256, for hashing wasmtime's compatibility hash stably.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

impl ArtifactCache {
    /// Uses `dir`, creating it (readable by this user only) if needed.
    pub(crate) fn open(dir: &Path) -> io::Result<ArtifactCache> {
        fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, engine: &wasmtime::Engine, digest: &Digest, variant: Variant) -> PathBuf {
        let mut hasher = Sha256Hasher(Sha256::new());
        digest.hex().hash(&mut hasher);
        engine.precompile_compatibility_hash().hash(&mut hasher);
        variant.hash(&mut hasher);
        let key: String = hasher
            .0
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The component compiled from `bytes` (whose digest is `digest`) for `engine`: from the
    /// cache when an artifact is there, otherwise compiled and then cached. A cache that cannot
    /// be read or written is skipped, never an error.
    pub(crate) fn component(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
        digest: &Digest,
        variant: Variant,
    ) -> wasmtime::Result<Component> {
        let path = self.path(engine, digest, variant);
        if path.is_file() {
            // SAFETY: the file is in patrol's private cache directory, named after this
            // engine's compatibility hash, and was written by `Component::serialize` below,
            // renamed into place only once complete.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => tracing::warn!(
                    %error, path = %path.display(),
                    "a cached component cannot be loaded; compiling it again"
                ),
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(error) = component
            .serialize()
            .map_err(io::Error::other)
            .and_then(|artifact| write_atomically(&path, &artifact))
        {
            tracing::warn!(%error, path = %path.display(), "cannot cache a compiled component");
        }
        Ok(component)
    }
}
