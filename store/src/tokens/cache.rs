//! What a replica keeps in memory so that the gateway path does not ask the database: token
//! records by the hash of their secret, and users' groups.
//!
//! The cache is only as good as the replica's knowledge of the change log. Whoever follows the
//! log calls [`Cache::apply`] for each entry and [`Cache::caught_up`] after each complete read
//! of it; a change made through this replica is applied at once by [`super::Tokens`]. While
//! the last catch-up is older than the staleness bound, [`Cache::is_fresh`] is false and
//! lookups go to the database (and fail, closed, if it cannot be reached).
//!
//! Unknown tokens are never cached (a token created through another replica must authenticate
//! here at once), and a lookup that raced an invalidation is not stored: each invalidation
//! moves a generation counter on, and a fill carries the generation read before its query.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use super::format::SecretHash;
use super::store::{Change, ChangeKind, TokenRecord};

/// Past this many entries, the cache starts again empty rather than grow without bound.
const MAX_ENTRIES: usize = 200_000;

/// How the gateway path's token lookups went, since the replica started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lookups {
    /// Answered from memory.
    pub hits: u64,
    /// Read from the database, then kept.
    pub misses: u64,
    /// Read from the database because the cache was past the staleness bound.
    pub read_through: u64,
}

/// A replica's in-memory view of tokens and groups.
pub struct Cache {
    staleness: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    read_through: AtomicU64,
    started: Instant,
    /// When the change log was last read to its end, in milliseconds since `started`
    /// (`u64::MAX`: never).
    caught_up_ms: AtomicU64,
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Moves on with every invalidation.
    generation: u64,
    tokens: HashMap<[u8; 32], TokenRecord>,
    /// Token id → the hash it is cached under.
    hash_of: HashMap<String, [u8; 32]>,
    /// (tenant, user) → groups.
    groups: HashMap<(String, String), Vec<String>>,
}

impl Entries {
    fn invalidate(&mut self) {
        self.generation += 1;
    }

    fn forget_token(&mut self, id: &str) {
        if let Some(hash) = self.hash_of.remove(id) {
            self.tokens.remove(&hash);
        }
    }

    fn forget_tenant(&mut self, tenant: &str) {
        self.tokens.retain(|_, token| token.tenant != tenant);
        let tokens = &self.tokens;
        self.hash_of.retain(|_, hash| tokens.contains_key(hash));
        self.groups.retain(|(t, _), _| t != tenant);
    }

    fn len(&self) -> usize {
        self.tokens.len() + self.groups.len()
    }
}

impl Cache {
    /// An empty cache, not yet caught up, trusted for `staleness` after each catch-up.
    pub fn new(staleness: Duration) -> Cache {
        Cache {
            staleness,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            read_through: AtomicU64::new(0),
            started: Instant::now(),
            caught_up_ms: AtomicU64::new(u64::MAX),
            entries: RwLock::new(Entries::default()),
        }
    }

    /// The staleness bound.
    pub fn staleness(&self) -> Duration {
        self.staleness
    }

    /// Records that the change log has just been read to its end.
    pub fn caught_up(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.caught_up_ms.store(now, Ordering::Release);
    }

    /// How long ago the change log was last read to its end; `None` if never.
    pub fn behind(&self) -> Option<Duration> {
        match self.caught_up_ms.load(Ordering::Acquire) {
            u64::MAX => None,
            at => Some(
                self.started
                    .elapsed()
                    .saturating_sub(Duration::from_millis(at)),
            ),
        }
    }

    /// Whether what the cache holds may be trusted: the log was read to its end within the
    /// staleness bound.
    pub fn is_fresh(&self) -> bool {
        self.behind().is_some_and(|behind| behind <= self.staleness)
    }

    /// How lookups went so far.
    pub fn lookups(&self) -> Lookups {
        Lookups {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            read_through: self.read_through.load(Ordering::Relaxed),
        }
    }

    pub(super) fn count_read_through(&self) {
        self.read_through.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets what `change` makes stale.
    pub fn apply(&self, change: &Change) {
        let mut entries = self.write();
        entries.invalidate();
        match change.kind {
            ChangeKind::Token => entries.forget_token(&change.key),
            ChangeKind::Group => entries.groups.retain(|(t, _), _| *t != change.tenant),
            ChangeKind::Tenant => entries.forget_tenant(&change.tenant),
            ChangeKind::Component => {}
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut entries = self.write();
        let generation = entries.generation + 1;
        *entries = Entries {
            generation,
            ..Entries::default()
        };
    }

    pub(super) fn generation(&self) -> u64 {
        self.read().generation
    }

    /// The token cached under `hash`; counts a hit or a miss.
    pub(super) fn token(&self, hash: &SecretHash) -> Option<TokenRecord> {
        let found = self.read().tokens.get(&hash.0).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores what a lookup found, unless something was invalidated since `generation`.
    pub(super) fn fill_token(&self, generation: u64, hash: &SecretHash, token: &TokenRecord) {
        let mut entries = self.write();
        if entries.generation != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.tokens.clear();
            entries.hash_of.clear();
            entries.groups.clear();
        }
        if let Some(previous) = entries.hash_of.insert(token.id.clone(), hash.0) {
            entries.tokens.remove(&previous);
        }
        entries.tokens.insert(hash.0, token.clone());
    }

    pub(super) fn groups(&self, tenant: &str, user: &str) -> Option<Vec<String>> {
        self.read()
            .groups
            .get(&(tenant.to_string(), user.to_string()))
            .cloned()
    }

    pub(super) fn fill_groups(&self, generation: u64, tenant: &str, user: &str, groups: &[String]) {
        let mut entries = self.write();
        if entries.generation != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.groups.clear();
        }
        entries
            .groups
            .insert((tenant.to_string(), user.to_string()), groups.to_vec());
    }

    /// Forgets token `id` (changed through this replica).
    pub(super) fn forget_token(&self, id: &str) {
        let mut entries = self.write();
        entries.invalidate();
        entries.forget_token(id);
    }

    /// Forgets `tenant`'s groups (changed through this replica).
    pub(super) fn forget_groups(&self, tenant: &str) {
        let mut entries = self.write();
        entries.invalidate();
        entries.groups.retain(|(t, _), _| t != tenant);
    }

    /// Forgets everything of `tenant` (retired through this replica).
    pub(super) fn forget_tenant(&self, tenant: &str) {
        let mut entries = self.write();
        entries.invalidate();
        entries.forget_tenant(tenant);
    }

    fn read(&self) -> RwLockReadGuard<'_, Entries> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries> {
        self.entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
