//! Server settings, all from the environment in one place.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leptos::config::{Env, LeptosOptions};

use crate::executor::local::Local;
use crate::executor::process::{Process, ProcessConfig};
use crate::executor::slurm::{Slurm, SlurmConfig};
use crate::executor::{Executor, ExecutorName};

/// Every knob the server reads, with its variable and default:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `ANNEAL_ADDR` | `127.0.0.1:3000` | listen address (also `LEPTOS_SITE_ADDR`, which cargo-leptos sets) |
/// | `ANNEAL_DATA_DIR` | `./data` | database, checkpoints and datasets the server manages |
/// | `ANNEAL_DB` | `$ANNEAL_DATA_DIR/anneal.db` | SQLite file |
/// | `ANNEAL_DATABASE_URL` | unset | `postgres://…` (or `sqlite://…`) instead of the SQLite file |
/// | `ANNEAL_MAX_CONCURRENT` | `1` | runs trained at the same time |
/// | `ANNEAL_ADMIN_TOKEN` | generated into `$ANNEAL_DATA_DIR/admin-token` | needed for mutating requests when `ANNEAL_ADDR` is not loopback |
/// | `ANNEAL_EXECUTOR` | `local` | where runs train: `local` (in the server), `process` (one `anneal worker` child process per run, so a run that exhausts memory fails alone) or `slurm` (one batch job per run through slurmrestd, below) |
/// | `ANNEAL_WORKER_SERVER_URL` | `http://<ANNEAL_ADDR>` (`0.0.0.0` as `127.0.0.1`) | the server as workers reach it |
/// | `ANNEAL_WORKER_MEMORY_BYTES` | unset | address-space limit of each worker process (`prlimit --as`) |
/// | `ANNEAL_WORKER_STALE_SECS` | `60` | a worker (process or Slurm job) silent this long is killed and replaced |
/// | `ANNEAL_WORKER_DATA_DIR` | `ANNEAL_DATA_DIR` | the `process` workers' own data directory; registered datasets missing there are fetched from the server by hash and kept |
/// | `ANNEAL_WORKER_PROGRAM` | this binary | the `anneal` binary workers run (its path on the cluster's nodes for `slurm`) |
/// | `ANNEAL_SLURM_URL` | (needed for `slurm`) | slurmrestd, e.g. `http://head:6820` |
/// | `ANNEAL_SLURM_API` | `v0.0.38` | slurmrestd's API version (Slurm 22.05: v0.0.38; 24.05+: v0.0.40 or later) |
/// | `ANNEAL_SLURM_USER`, `ANNEAL_SLURM_TOKEN` | (needed for `slurm`) | the user jobs run as, and its JWT (`scontrol token`) |
/// | `ANNEAL_SLURM_PARTITION` | the cluster's default | partition jobs go to |
/// | `ANNEAL_SLURM_CPUS` | `1` | CPUs per job |
/// | `ANNEAL_SLURM_MAX_JOBS` | `32` | runs in flight on the cluster at once (landscapes keep `ANNEAL_MAX_CONCURRENT` local slots) |
/// | `ANNEAL_SLURM_MEMORY_MB` | unset | memory per job (MB) |
/// | `ANNEAL_SLURM_GPUS` | unset | GPUs per job (a `gres:gpu:N` TRES request; pair it with a CUDA build and `backend = "cuda"` or `"auto"`) |
/// | `ANNEAL_SLURM_DATA_DIR` | `ANNEAL_DATA_DIR` | where the nodes find datasets |
/// | `ANNEAL_SLURM_LOG_DIR` | `/tmp` | where the jobs' output goes on the nodes |
/// | `ANNEAL_DATASET_MAX_BYTES` | `2147483648` (2 GiB) | the largest dataset upload (413 beyond, refused by its declared length before it is read) |
/// | `ANNEAL_DATASET_MAX_FILES`, `ANNEAL_DATASET_MAX_UNPACKED_BYTES` | `2000000`, `8589934592` (8 GiB) | an archive's most entries and unpacked bytes; registration stops as soon as one is passed |
/// | `ANNEAL_PRIVATE` | `0` | `1`: reads need the admin token too (a token is then required on loopback as well); share links stay the only public view |
/// | `ANNEAL_ALLOWED_HOSTS` | unset | extra host names (comma-separated) the server answers to; `localhost` and IP addresses always are |
/// | `LEPTOS_SITE_ROOT` | `target/site` | built site: wasm, JS, CSS, plotly.min.js |
/// | `LEPTOS_ENV` | `PROD` | `DEV` turns on cargo-leptos live reload |
/// | `LEPTOS_RELOAD_PORT` | `3001` | live-reload websocket port (DEV only) |
#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub db_path: PathBuf,
    pub database_url: Option<String>,
    pub max_concurrent: usize,
    pub admin_token: Option<String>,
    /// Reads need the admin token too; share pages stay public.
    pub private: bool,
    /// Where claimed runs train.
    pub executor: Arc<dyn Executor>,
    /// Host names, besides `localhost` and IP literals, that requests may name.
    pub allowed_hosts: Vec<String>,
    /// How much a dataset registration may read.
    pub dataset_limits: crate::registry::RegistryLimits,
    pub site_root: String,
    pub dev_reload: bool,
    pub reload_port: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct SettingsError {
    pub var: &'static str,
    pub problem: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        Some(v) => v.trim().parse().map_err(|e: T::Err| SettingsError {
            var: name,
            problem: e.to_string(),
        }),
        None => Ok(default),
    }
}

impl Settings {
    /// Where the database is, for logs and messages (never the URL: it may carry a password).
    pub fn db_label(&self) -> String {
        match &self.database_url {
            Some(url) => url.split(':').next().unwrap_or("database").to_owned(),
            None => self.db_path.display().to_string(),
        }
    }

    pub fn from_environment() -> Result<Self, SettingsError> {
        let addr_default: SocketAddr = ([127, 0, 0, 1], 3000).into();
        let addr = match var("ANNEAL_ADDR") {
            Some(_) => parsed("ANNEAL_ADDR", addr_default)?,
            None => parsed("LEPTOS_SITE_ADDR", addr_default)?,
        };
        let data_dir = PathBuf::from(var("ANNEAL_DATA_DIR").unwrap_or_else(|| "data".into()));
        let db_path = var("ANNEAL_DB").map_or_else(|| data_dir.join("anneal.db"), PathBuf::from);
        let max_concurrent = parsed("ANNEAL_MAX_CONCURRENT", 1usize)?;
        if max_concurrent == 0 || max_concurrent > 64 {
            return Err(SettingsError {
                var: "ANNEAL_MAX_CONCURRENT",
                problem: "must be between 1 and 64".into(),
            });
        }
        let executor = executor(addr, &data_dir)?;
        Ok(Self {
            addr,
            data_dir,
            db_path,
            database_url: var("ANNEAL_DATABASE_URL"),
            max_concurrent,
            admin_token: var("ANNEAL_ADMIN_TOKEN"),
            executor,
            private: match var("ANNEAL_PRIVATE").as_deref() {
                None | Some("0" | "false" | "") => false,
                Some("1" | "true") => true,
                Some(other) => {
                    return Err(SettingsError {
                        var: "ANNEAL_PRIVATE",
                        problem: format!("{other:?} is not 0 or 1"),
                    });
                }
            },
            allowed_hosts: var("ANNEAL_ALLOWED_HOSTS")
                .map(|v| {
                    v.split(',')
                        .map(|h| h.trim().to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            dataset_limits: dataset_limits()?,
            site_root: var("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            dev_reload: var("LEPTOS_ENV").is_some_and(|v| v.eq_ignore_ascii_case("dev")),
            reload_port: parsed("LEPTOS_RELOAD_PORT", 3001u32)?,
        })
    }

    pub fn leptos_options(&self) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("anneal")
            .site_root(self.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(self.addr)
            .reload_port(self.reload_port)
            .env(if self.dev_reload { Env::DEV } else { Env::PROD })
            .build()
    }
}

/// The server as workers reach it.
fn worker_server_url(addr: SocketAddr) -> String {
    var("ANNEAL_WORKER_SERVER_URL").unwrap_or_else(|| {
        let ip = if addr.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            addr.ip()
        };
        format!("http://{}", SocketAddr::new(ip, addr.port()))
    })
}

/// The `anneal` binary workers run.
fn worker_program() -> Result<PathBuf, SettingsError> {
    match std::env::var_os("ANNEAL_WORKER_PROGRAM") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => std::env::current_exe().map_err(|e| SettingsError {
            var: "ANNEAL_WORKER_PROGRAM",
            problem: format!("cannot find this binary to start workers with: {e}"),
        }),
    }
}

/// The executor the environment names, with its settings: one arm per executor.
fn executor(addr: SocketAddr, data_dir: &Path) -> Result<Arc<dyn Executor>, SettingsError> {
    let name = match var("ANNEAL_EXECUTOR") {
        None => ExecutorName::Local,
        Some(v) => v.parse().map_err(|problem| SettingsError {
            var: "ANNEAL_EXECUTOR",
            problem,
        })?,
    };
    Ok(match name {
        ExecutorName::Local => Arc::new(Local),
        ExecutorName::Process => Arc::new(Process(process_config(addr)?)),
        ExecutorName::Slurm => Arc::new(Slurm::new(slurm_config(addr, data_dir)?)),
    })
}

fn process_config(addr: SocketAddr) -> Result<ProcessConfig, SettingsError> {
    let memory_limit = match var("ANNEAL_WORKER_MEMORY_BYTES") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|&b| b >= 1 << 24)
                .ok_or(SettingsError {
                    var: "ANNEAL_WORKER_MEMORY_BYTES",
                    problem: format!("{v:?} is not a number of bytes of at least 16 MiB"),
                })?,
        ),
    };
    Ok(ProcessConfig {
        server_url: worker_server_url(addr),
        program: worker_program()?,
        memory_limit,
        stale_after: worker_stale_after()?,
        worker_data_dir: var("ANNEAL_WORKER_DATA_DIR").map(PathBuf::from),
    })
}

/// How long a running worker may stay silent before its executor treats it as hung (both the
/// process and the Slurm executor read the one setting).
fn worker_stale_after() -> Result<std::time::Duration, SettingsError> {
    let stale_secs = parsed("ANNEAL_WORKER_STALE_SECS", 60u64)?;
    if !(1..=86_400).contains(&stale_secs) {
        return Err(SettingsError {
            var: "ANNEAL_WORKER_STALE_SECS",
            problem: "must be between 1 and 86400 seconds".into(),
        });
    }
    Ok(std::time::Duration::from_secs(stale_secs))
}

/// The dataset registry's caps: the upload, and an archive's files and unpacked bytes.
fn dataset_limits() -> Result<crate::registry::RegistryLimits, SettingsError> {
    let mut limits = crate::registry::RegistryLimits::default();
    if let Some(n) = positive("ANNEAL_DATASET_MAX_BYTES")? {
        limits.max_upload_bytes = n;
    }
    if let Some(n) = positive("ANNEAL_DATASET_MAX_FILES")? {
        limits.import.max_files = n;
    }
    if let Some(n) = positive("ANNEAL_DATASET_MAX_UNPACKED_BYTES")? {
        limits.import.max_unpacked_bytes = n;
    }
    Ok(limits)
}

/// A setting the Slurm executor cannot do without.
fn needed_for_slurm(k: &'static str) -> Result<String, SettingsError> {
    var(k).ok_or(SettingsError {
        var: k,
        problem: "must be set when ANNEAL_EXECUTOR=slurm (scripts/slurm.sh start prints it for a local cluster)".into(),
    })
}

/// A positive whole number, if set.
fn positive(k: &'static str) -> Result<Option<u64>, SettingsError> {
    var(k)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or(SettingsError {
                    var: k,
                    problem: format!("{v:?} is not a positive whole number"),
                })
        })
        .transpose()
}

fn slurm_config(addr: SocketAddr, data_dir: &Path) -> Result<SlurmConfig, SettingsError> {
    Ok(SlurmConfig {
        stale_after: worker_stale_after()?,
        url: needed_for_slurm("ANNEAL_SLURM_URL")?,
        api: var("ANNEAL_SLURM_API").unwrap_or_else(|| "v0.0.38".into()),
        user: needed_for_slurm("ANNEAL_SLURM_USER")?,
        token: needed_for_slurm("ANNEAL_SLURM_TOKEN")?,
        partition: var("ANNEAL_SLURM_PARTITION"),
        max_jobs: positive("ANNEAL_SLURM_MAX_JOBS")?
            .map_or(32, |n| usize::try_from(n).unwrap_or(usize::MAX)),
        cpus_per_job: positive("ANNEAL_SLURM_CPUS")?
            .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        memory_mb_per_job: positive("ANNEAL_SLURM_MEMORY_MB")?,
        gpus_per_job: positive("ANNEAL_SLURM_GPUS")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        worker_program: worker_program()?,
        server_url: worker_server_url(addr),
        node_data_dir: var("ANNEAL_SLURM_DATA_DIR").map_or_else(
            || std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
            PathBuf::from,
        ),
        log_dir: var("ANNEAL_SLURM_LOG_DIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
    })
}
