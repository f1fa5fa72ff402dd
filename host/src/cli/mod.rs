//! Command-line arguments and the subcommands behind them.

mod check;
mod eval;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// patrol: a sandboxed policy engine for personal access tokens.
#[derive(Debug, Parser)]
#[command(name = "patrol", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Judge one request against a tenant's policies and print the decision as JSON.
    ///
    /// Exits 0 when the request is allowed, 1 when it is denied, 2 when the request or the
    /// configuration is invalid.
    Eval {
        /// The tenant configuration (TOML, or JSON when the name ends in `.json`).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// The request as JSON; `-` reads it from standard input.
        #[arg(long, short, value_name = "FILE")]
        request: PathBuf,
    },
    /// Validate a tenant configuration: parse it, load every component, check every policy's
    /// settings.
    Check {
        /// The tenant configuration.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
}

/// How a successful run ends.
pub enum Outcome {
    /// Allowed, or checked.
    Success,
    /// Denied.
    Denied,
}

impl Outcome {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Denied => ExitCode::from(1),
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Eval { config, request } => eval::run(&config, &request),
        Command::Check { config } => check::run(&config),
    }
}
