//! The store's integration tests, in one binary: the real SQLite file, tokens made through the
//! real lifecycle, and the reports computed from them.

mod inventory;
mod reports;
mod tls;
mod token_store;
