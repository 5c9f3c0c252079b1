//! The `anneal` binary: parse the command line, set up logging, and hand off.

// Without `--cfg erase_components` (release builds), the pages' nested view types outgrow 128.
#![recursion_limit = "256"]

mod cli;
mod commands;
mod db;
mod events;
mod executor;
mod http;
mod ingest;
mod landscapes;
mod objects;
mod ownership;
mod queue;
mod redact;
mod registry;
mod runs;
mod service;
mod settings;
mod shares;
#[cfg(test)]
mod testing;
mod tokens;
mod worker;

use std::process::ExitCode;

use clap::Parser;

// mimalloc: `anneal` trains, in the server and as a worker (see the `trainer` crate's docs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli::Cli::parse().command {
        cli::Command::Serve => settings::Settings::from_environment()
            .map_err(Into::into)
            .and_then(|s| runtime().and_then(|rt| rt.block_on(commands::serve(s)))),
        cli::Command::Run { spec, seeds } => settings::Settings::from_environment()
            .map_err(Into::into)
            .and_then(|s| {
                runtime().and_then(|rt| rt.block_on(commands::run(s, &spec, seeds.as_deref())))
            }),
        cli::Command::Sweep {
            spec,
            seeds,
            add_to,
        } => settings::Settings::from_environment()
            .map_err(Into::into)
            .and_then(|s| {
                runtime().and_then(|rt| {
                    rt.block_on(commands::sweep(
                        s,
                        spec.as_deref(),
                        seeds.as_deref(),
                        add_to,
                    ))
                })
            }),
        cli::Command::Predict { sweep } => settings::Settings::from_environment()
            .map_err(Into::into)
            .and_then(|s| runtime().and_then(|rt| rt.block_on(commands::predict(s, sweep)))),
        cli::Command::Worker { server, run } => match std::env::var(worker::protocol::TOKEN_ENV) {
            Ok(token) if !token.trim().is_empty() => {
                let data_dir = std::env::var_os("ANNEAL_DATA_DIR")
                    .map_or_else(|| std::path::PathBuf::from("data"), Into::into);
                worker::run(&server, run, token.trim().to_owned(), &data_dir)
            }
            _ => Err(format!(
                "{} is not set: the worker needs its job's token",
                worker::protocol::TOKEN_ENV
            )
            .into()),
        },
        cli::Command::Data { action } => settings::Settings::from_environment()
            .map_err(Into::into)
            .and_then(|s| runtime().and_then(|rt| rt.block_on(commands::registry(s, action)))),
        cli::Command::Schedule {
            spec,
            steps,
            steps_per_epoch,
        } => commands::schedule(&spec, steps, steps_per_epoch),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, commands::BoxError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
