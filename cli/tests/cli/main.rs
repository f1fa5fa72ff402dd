//! The `patrol` command's integration tests, in one binary: the real binary, over real
//! sockets where a process boundary matters, with a real NGINX, Caddy, PostgreSQL and npm where they take part.

mod commands;
mod common;
mod console;
mod fleet;
mod gateway_caddy;
mod gateway_nginx;
#[path = "../../../store/tests/store/inventory.rs"]
mod inventory;
mod mcp;
mod mcp_client;
mod readme;
mod reports;
mod scim_conformance;
mod second_language;
mod server_process;
mod token_service;
mod writing_policies;

use patrol_test_support::machine;
