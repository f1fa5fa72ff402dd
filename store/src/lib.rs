//! patrol's state: everything that outlives a decision.
//!
//! - [`tokens`]: personal access tokens (their format, hashing and lifecycle), the
//!   [`TokenStore`](tokens::TokenStore) contract and its two backends — SQLite
//!   ([`SqliteStore`](tokens::SqliteStore), one machine) and PostgreSQL
//!   ([`PgStore`](tokens::PgStore), replicas sharing one database, with its change log) — the
//!   replica's in-memory [`Cache`](tokens::Cache), the audit log, the outbox of expiry notices
//!   and the group directory;
//! - [`reports`]: compliance reports over the store and the decision log, and the dry run
//!   (`whatif`) of a proposed configuration;
//! - [`DataDir`]: the data directory a service or a command works in (configurations,
//!   uploaded components, the token database).
//!
//! It depends on the engine (`patrol`) for requests, decisions and tenants, and on nothing
//! that serves or parses command lines: the service (`patrol-server`) and the command
//! (`patrol-cli`) build on it.
//!
//! ```no_run
//! use patrol_store::tokens::{SqliteStore, Tokens};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::open("tokens.db".as_ref())?;
//! let tokens = Tokens::new(std::sync::Arc::new(store));
//! # Ok(())
//! # }
//! ```

mod data_dir;
pub mod reports;
pub mod tokens;

pub use data_dir::{DataDir, Format as ConfigFormat, NotADataDir};
