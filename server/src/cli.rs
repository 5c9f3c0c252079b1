//! The `anneal` command line: one binary, one subcommand per job.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "anneal", version, about = "Anneal: when should the learning rate come down?")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web lab (settings from the environment; see `Settings`).
    Serve,
    /// Print a schedule's LR at every step, one per line (no server needed).
    Schedule {
        /// Schedule spec, JSON or TOML (by extension), e.g. {"kind":"cosine","lr":0.1,"t_max":100,"eta_min":0}.
        spec: PathBuf,
        /// Number of steps to print.
        #[arg(long)]
        steps: u64,
        /// When given, each line is "step epoch lr" instead of just the LR.
        #[arg(long)]
        steps_per_epoch: Option<u64>,
    },
}
