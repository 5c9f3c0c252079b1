//! The `process` executor: one `anneal worker` child process per run, which speaks the worker
//! protocol to this server. A run that exhausts its worker's memory then fails alone: the
//! child dies, the server does not. A worker that dies by a signal without reporting (a
//! `kill -9`, a crash) or goes silent past `stale_after` (it is killed) has not failed its run:
//! a new worker takes the run on from its last checkpoint, up to `RESUBMITS` times.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use domain::BoxFut;
use trainer::StopFlag;

use super::{Executor, ExecutorName, Host, RESUBMITS, RunJob, STOP_GRACE, reported};
use crate::queue::Finished;
use crate::worker::protocol::TOKEN_ENV;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The server as the worker reaches it, e.g. `http://127.0.0.1:3000`.
    pub server_url: String,
    /// The `anneal` binary the worker runs (this one by default).
    pub program: PathBuf,
    /// Address-space limit of each worker, in bytes (through `prlimit --as`); none by default.
    pub memory_limit: Option<u64>,
    /// A worker that sends no heartbeat for this long is hung: it is killed and replaced.
    pub stale_after: Duration,
    /// The workers' own data directory (their datasets and scratch), when it is not the
    /// server's: a registered dataset missing there is fetched from the server by its hash.
    pub worker_data_dir: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Process(pub ProcessConfig);

impl Executor for Process {
    fn name(&self) -> ExecutorName {
        ExecutorName::Process
    }

    fn train<'a>(
        &'a self,
        host: &'a dyn Host,
        job: RunJob,
        stop: StopFlag,
    ) -> BoxFut<'a, Result<Finished<()>, String>> {
        Box::pin(self.train_in_workers(host, job.run.id, stop))
    }
}

impl Process {
    /// The worker's command line: its job, its token, and where datasets are.
    fn command(&self, host: &dyn Host, id: i64, token: &str) -> tokio::process::Command {
        let cfg = &self.0;
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
            .env(TOKEN_ENV, token)
            .env(
                "ANNEAL_DATA_DIR",
                cfg.worker_data_dir.as_deref().unwrap_or(host.data_dir()),
            )
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Trains the run in child processes: one, or a new one into the same run each time one is
    /// lost without reporting its end.
    async fn train_in_workers(
        &self,
        host: &dyn Host,
        id: i64,
        stop: StopFlag,
    ) -> Result<Finished<()>, String> {
        let mut lost = 0;
        loop {
            match self.train_in_worker(host, id, stop.clone()).await? {
                Some(done) => return Ok(done),
                None if lost < RESUBMITS => {
                    lost += 1;
                    tracing::warn!(
                        run.id = id,
                        attempt = lost,
                        "the worker process was lost without a report; a new one resumes the run"
                    );
                }
                // Lost again and again: leave it interrupted, for Resume.
                None => return Ok(Finished::Stopped { at_step: None }),
            }
        }
    }

    /// Trains the run in one child process and waits for it; None when the worker was lost
    /// (killed by a signal, or hung and killed here) without reporting how the run ended.
    async fn train_in_worker(
        &self,
        host: &dyn Host,
        id: i64,
        stop: StopFlag,
    ) -> Result<Option<Finished<()>>, String> {
        let token = host.hand_to_worker(id, self.name(), &stop).await?;
        let mut child = match self.command(host, id, &token).spawn() {
            Ok(c) => c,
            Err(e) => {
                host.take_worker_end(id).await;
                tracing::error!(run.id = id, error = %e, "cannot start a worker process");
                return Err("the server could not start a worker process".into());
            }
        };
        tracing::info!(run.id = id, pid = child.id(), "worker process started");
        let mut told_at: Option<Instant> = None;
        let mut hung = false;
        let status = loop {
            tokio::select! {
                s = child.wait() => break s,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    // Its next heartbeat tells the worker to stop; one that does not is killed.
                    if stop.is_raised() && told_at.get_or_insert_with(Instant::now).elapsed() > STOP_GRACE {
                        let _ = child.start_kill();
                    }
                    let silent = host.worker_silent_for(id).unwrap_or_default();
                    if !hung && silent > self.0.stale_after {
                        hung = true;
                        tracing::warn!(run.id = id, silent_s = silent.as_secs(), "the worker process stopped sending heartbeats; killing it");
                        let _ = child.start_kill();
                    }
                }
            }
        };
        match (host.take_worker_end(id).await, status) {
            (Some(end), _) => reported(end, host.data_dir()).map(Some),
            // Told to stop and killed before it could say so: stopped all the same.
            (None, _) if stop.is_raised() => Ok(Some(Finished::Stopped { at_step: None })),
            (None, _) if hung => Ok(None),
            (None, Ok(status)) if lost_by_signal(status) => Ok(None),
            (None, Ok(status)) => Err(describe_exit(status)),
            (None, Err(e)) => {
                tracing::error!(run.id = id, error = %e, "waiting for a worker process");
                Err("the server lost track of the worker process".into())
            }
        }
    }
}

/// Whether a worker that said nothing was killed from outside (SIGKILL, a crash signal), which
/// says nothing about the run, rather than aborted by a failed allocation (SIGABRT), which a
/// new worker would repeat.
fn lost_by_signal(status: std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal().is_some_and(|sig| sig != 6)
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::fake::FakeHost;
    use crate::worker::protocol::End;

    fn process(program: &str) -> Process {
        Process(ProcessConfig {
            server_url: "http://127.0.0.1:1".into(),
            program: program.into(),
            memory_limit: None,
            stale_after: Duration::from_secs(60),
            worker_data_dir: None,
        })
    }

    #[tokio::test]
    async fn a_worker_that_cannot_start_fails_the_run_and_ends_its_job() {
        let host = FakeHost::new();
        let out = process("/nonexistent/anneal")
            .train_in_worker(&host, 7, StopFlag::new())
            .await;
        assert_eq!(
            out.err().as_deref(),
            Some("the server could not start a worker process")
        );
        assert_eq!(host.calls(), ["hand process 7", "end 7"]);
    }

    #[tokio::test]
    async fn the_reported_end_decides_and_a_silent_exit_is_explained() {
        // `true` exits at once without a word: the run fails, saying so.
        let host = FakeHost::new();
        let out = process("true")
            .train_in_worker(&host, 3, StopFlag::new())
            .await;
        assert!(
            out.as_ref()
                .is_err_and(|e| e.contains("without reporting how the run ended")),
            "{:?}",
            out.err()
        );
        // The same exit after the worker reported completion: completed.
        let host = FakeHost::new();
        *host.end.lock().expect("end") = Some(End::Completed);
        let out = process("true")
            .train_in_worker(&host, 3, StopFlag::new())
            .await;
        assert!(matches!(out, Ok(Some(Finished::Completed(())))));
        assert_eq!(host.calls(), ["hand process 3", "end 3"]);
    }

    /// A stand-in worker: a shell script that ignores its arguments.
    fn script(tmp: &crate::testing::TempDir, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = tmp.path().join("worker.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn a_silent_worker_is_killed_and_counted_lost_not_failed() {
        let tmp = crate::testing::TempDir::new("hung-worker");
        let host = FakeHost::new();
        *host.silent.lock().expect("silent") = Some(Duration::from_secs(61));
        // It holds its job and says nothing: killed at the first check, and lost.
        let started = Instant::now();
        let out = process(&script(&tmp, "exec sleep 600"))
            .train_in_worker(&host, 5, StopFlag::new())
            .await;
        assert!(matches!(out, Ok(None)), "{out:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_worker_killed_from_outside_is_replaced_up_to_the_limit() {
        let tmp = crate::testing::TempDir::new("killed-worker");
        let host = FakeHost::new();
        // Every worker is killed with -9: RESUBMITS replacements, then the run is left
        // interrupted (resumable), not failed.
        let out = process(&script(&tmp, "kill -9 $$"))
            .train_in_workers(&host, 4, StopFlag::new())
            .await;
        assert!(
            matches!(out, Ok(Finished::Stopped { at_step: None })),
            "{out:?}"
        );
        let hands = host
            .calls()
            .iter()
            .filter(|c| c.starts_with("hand"))
            .count();
        assert_eq!(hands as u32, RESUBMITS + 1);
        // An allocation failure (SIGABRT) is the run's own: it fails at once, saying why.
        let host = FakeHost::new();
        let out = process(&script(&tmp, "kill -6 $$"))
            .train_in_workers(&host, 4, StopFlag::new())
            .await;
        assert!(out.is_err_and(|e| e.contains("memory")));
    }
}
