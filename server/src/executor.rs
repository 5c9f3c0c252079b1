//! Where a run trains: `local` (in this process, on a blocking thread, as always) or `process`
//! (an `anneal worker` child process that speaks the worker protocol to this server). A run
//! that exhausts its worker's memory then fails alone: the child dies, the server does not.
//! A cluster dispatcher (Slurm, #15) starts the same worker on another machine.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use trainer::StopFlag;

use crate::queue::{Finished, lock};
use crate::runs::{RunJob, RunService};
use crate::worker::protocol::{End, TOKEN_ENV};

/// How long a worker may take to stop on its own after being told to, before it is killed
/// (or its batch job cancelled).
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(15);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Executor {
    /// In this process.
    #[default]
    Local,
    /// One `anneal worker` child process per run.
    Process(ProcessConfig),
    /// One Slurm batch job per run, through slurmrestd.
    Slurm(crate::slurm::SlurmConfig),
}

impl Executor {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Process(_) => "process",
            Self::Slurm(_) => "slurm",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The server as the worker reaches it, e.g. `http://127.0.0.1:3000`.
    pub server_url: String,
    /// The `anneal` binary the worker runs (this one by default).
    pub program: PathBuf,
    /// Address-space limit of each worker, in bytes (through `prlimit --as`); none by default.
    pub memory_limit: Option<u64>,
}

/// A worker job in flight: the flag its heartbeats answer, and how it said it ended.
#[derive(Default)]
pub struct Workers {
    jobs: Mutex<HashMap<i64, (StopFlag, Option<End>)>>,
}

impl Workers {
    pub(crate) fn start(&self, run: i64, stop: StopFlag) {
        lock(&self.jobs).insert(run, (stop, None));
    }

    /// Whether the worker of `run` should stop: its flag is raised, or it is not ours.
    pub fn should_stop(&self, run: i64) -> bool {
        lock(&self.jobs)
            .get(&run)
            .is_none_or(|(s, _)| s.is_raised())
    }

    pub fn ended(&self, run: i64, end: End) {
        if let Some(job) = lock(&self.jobs).get_mut(&run) {
            job.1 = Some(end);
        }
    }

    pub(crate) fn finish(&self, run: i64) -> Option<End> {
        lock(&self.jobs).remove(&run).and_then(|(_, end)| end)
    }
}

/// Why a worker that never reported its end stopped, in user terms.
fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal() {
            Some(6) => {
                return "the worker process aborted (SIGABRT), which is how it ends when an \
                        allocation fails: the run needed more memory than its worker may use"
                    .into();
            }
            Some(9) => {
                return "the worker process was killed (SIGKILL), for example by the kernel's \
                        out-of-memory killer"
                    .into();
            }
            Some(sig) => return format!("the worker process was killed by signal {sig}"),
            None => {}
        }
    }
    format!("the worker process exited ({status}) without reporting how the run ended")
}

impl RunService {
    /// Trains a claimed run in an `anneal worker` child process and waits for it.
    pub(crate) async fn train_in_worker(
        &self,
        job: RunJob,
        stop: StopFlag,
        cfg: &ProcessConfig,
    ) -> Result<Finished<()>, String> {
        let id = job.run.id;
        let token = self.hand_to_worker(id, "process", &stop).await?;
        let mut cmd = match cfg.memory_limit {
            Some(bytes) => {
                let mut c = tokio::process::Command::new("prlimit");
                c.arg(format!("--as={bytes}")).arg("--").arg(&cfg.program);
                c
            }
            None => tokio::process::Command::new(&cfg.program),
        };
        cmd.arg("worker")
            .arg("--server")
            .arg(&cfg.server_url)
            .arg("--run")
            .arg(id.to_string())
            .env(TOKEN_ENV, &token)
            .env("ANNEAL_DATA_DIR", self.data_dir())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.take_worker_end(id).await;
                tracing::error!(run.id = id, error = %e, "cannot start a worker process");
                return Err("the server could not start a worker process".into());
            }
        };
        tracing::info!(run.id = id, pid = child.id(), "worker process started");
        let mut told_at: Option<Instant> = None;
        let status = loop {
            tokio::select! {
                s = child.wait() => break s,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    // Its next heartbeat tells the worker to stop; one that does not is killed.
                    if stop.is_raised() && told_at.get_or_insert_with(Instant::now).elapsed() > STOP_GRACE {
                        let _ = child.start_kill();
                    }
                }
            }
        };
        match (self.take_worker_end(id).await, status) {
            (Some(end), _) => self.reported(end),
            // Told to stop and killed before it could say so: stopped all the same.
            (None, _) if stop.is_raised() => Ok(Finished::Stopped { at_step: None }),
            (None, Ok(status)) => Err(describe_exit(status)),
            (None, Err(e)) => {
                tracing::error!(run.id = id, error = %e, "waiting for a worker process");
                Err("the server lost track of the worker process".into())
            }
        }
    }

    /// Hands a claimed run to a new worker job of `executor`: a fresh token (stored hashed),
    /// a fresh ingest counter, and the flag its heartbeats answer. Answers the token.
    pub(crate) async fn hand_to_worker(
        &self,
        id: i64,
        executor: &str,
        stop: &StopFlag,
    ) -> Result<String, String> {
        let token = crate::shares::new_token();
        self.db()
            .dispatch_worker(id, executor, &crate::shares::hash_token(&token))
            .await
            .map_err(|e| {
                tracing::error!(run.id = id, error = %e, "dispatching a worker failed in storage");
                "the server could not hand this run to a worker".to_owned()
            })?;
        self.workers().start(id, stop.clone());
        Ok(token)
    }

    /// Ends the worker job of `id`: its token dies, and how it said it ended comes back.
    pub(crate) async fn take_worker_end(&self, id: i64) -> Option<End> {
        let end = self.workers().finish(id);
        let _ = self.db().revoke_worker(id).await;
        end
    }

    /// The run's outcome from the end its worker reported.
    pub(crate) fn reported(&self, end: End) -> Result<Finished<()>, String> {
        match end {
            End::Completed => Ok(Finished::Completed(())),
            End::Stopped { at_step } => Ok(Finished::Stopped {
                at_step: Some(at_step),
            }),
            End::Failed { message } => Err(crate::runs::hide_paths(&message, self.data_dir())),
        }
    }
}
