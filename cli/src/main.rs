//! The `patrol` command: evaluate requests against a tenant's policies, check configurations.
//!
//! Exit codes: 0 allowed (or a configuration that checks out), 1 denied, 2 invalid input or
//! configuration, with one line on stderr saying what and where.

mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = commands::Cli::parse();
    match commands::run(args) {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
