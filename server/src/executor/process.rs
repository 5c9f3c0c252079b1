//! The `process` executor: one `anneal worker` child process per run, which speaks the worker
//! protocol to this server. A run that exhausts its worker's memory then fails alone: the
//! child dies, the server does not.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use domain::BoxFut;
use trainer::StopFlag;

use super::{Executor, ExecutorName, Host, RunJob, STOP_GRACE, reported};
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
        Box::pin(self.train_in_worker(host, job.run.id, stop))
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
            .env("ANNEAL_DATA_DIR", host.data_dir())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Trains the run in a child process and waits for it.
    async fn train_in_worker(
        &self,
        host: &dyn Host,
        id: i64,
        stop: StopFlag,
    ) -> Result<Finished<()>, String> {
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
        match (host.take_worker_end(id).await, status) {
            (Some(end), _) => reported(end, host.data_dir()),
            // Told to stop and killed before it could say so: stopped all the same.
            (None, _) if stop.is_raised() => Ok(Finished::Stopped { at_step: None }),
            (None, Ok(status)) => Err(describe_exit(status)),
            (None, Err(e)) => {
                tracing::error!(run.id = id, error = %e, "waiting for a worker process");
                Err("the server lost track of the worker process".into())
            }
        }
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
        assert!(matches!(out, Ok(Finished::Completed(()))));
        assert_eq!(host.calls(), ["hand process 3", "end 3"]);
    }
}
