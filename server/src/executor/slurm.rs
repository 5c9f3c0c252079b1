//! The `slurm` executor: each run is a batch job, submitted, polled and cancelled through
//! slurmrestd's REST API, whose job runs `anneal worker` on a node. A job that vanishes without
//! reporting its end (scancel, a killed node) leaves the run to be resumed by a new job into
//! the same run id, from its last checkpoint. Jobs outlive the server: a restarted server
//! adopts those still running, and their workers carry on (they retry while it is down).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use domain::BoxFut;
use serde_json::{Value, json};
use trainer::StopFlag;

use super::{Executor, ExecutorName, Host, RESUBMITS, RunJob, STOP_GRACE, reported};
use crate::db::{Db, DbError};
use crate::queue::Finished;
use crate::worker::protocol::TOKEN_ENV;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmConfig {
    /// slurmrestd, e.g. `http://127.0.0.1:6820`.
    pub url: String,
    /// The API version in its paths, e.g. `v0.0.38` (Slurm 22.05).
    pub api: String,
    pub user: String,
    pub token: String,
    pub partition: Option<String>,
    pub cpus_per_job: u32,
    /// Runs in flight on the cluster at once (a sweep's branches fan out up to this).
    pub max_jobs: usize,
    pub memory_mb_per_job: Option<u64>,
    /// GPUs per job (`--gpus-per-node` as a TRES request).
    pub gpus_per_job: Option<u32>,
    /// The `anneal` binary as the nodes see it.
    pub worker_program: PathBuf,
    /// The server as the nodes reach it.
    pub server_url: String,
    /// Where the nodes find datasets (ANNEAL_DATA_DIR of the worker).
    pub node_data_dir: PathBuf,
    /// Where the jobs' output goes on the nodes (`%j` is the job id).
    pub log_dir: PathBuf,
    /// A running job whose worker has been silent this long is hung (stopped, deadlocked, its
    /// node cut off): it is cancelled, and the run goes to a new job like a lost one.
    pub stale_after: Duration,
}

/// A job's state as slurmrestd names it (`job_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlurmState {
    Pending,
    Configuring,
    Running,
    Completing,
    Suspended,
    Requeued,
    Completed,
    Cancelled,
    Failed,
    Timeout,
    NodeFail,
    Preempted,
    BootFail,
    Deadline,
    OutOfMemory,
    /// One this server has no use for; taken as final, like the failures.
    Other(String),
}

impl SlurmState {
    const NAMED: [(Self, &'static str); 15] = [
        (Self::Pending, "PENDING"),
        (Self::Configuring, "CONFIGURING"),
        (Self::Running, "RUNNING"),
        (Self::Completing, "COMPLETING"),
        (Self::Suspended, "SUSPENDED"),
        (Self::Requeued, "REQUEUED"),
        (Self::Completed, "COMPLETED"),
        (Self::Cancelled, "CANCELLED"),
        (Self::Failed, "FAILED"),
        (Self::Timeout, "TIMEOUT"),
        (Self::NodeFail, "NODE_FAIL"),
        (Self::Preempted, "PREEMPTED"),
        (Self::BootFail, "BOOT_FAIL"),
        (Self::Deadline, "DEADLINE"),
        (Self::OutOfMemory, "OUT_OF_MEMORY"),
    ];

    pub fn parse(s: &str) -> Self {
        Self::NAMED
            .iter()
            .find(|(_, name)| *name == s)
            .map_or_else(|| Self::Other(s.to_owned()), |(state, _)| state.clone())
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => Self::NAMED
                .iter()
                .find(|(state, _)| state == known)
                .map_or("", |(_, name)| name),
        }
    }

    /// No more changes will come.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Self::Pending
                | Self::Running
                | Self::Configuring
                | Self::Completing
                | Self::Suspended
                | Self::Requeued
        )
    }
}

impl std::fmt::Display for SlurmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job as slurmrestd reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobState {
    pub state: SlurmState,
    pub node: Option<String>,
}

impl JobState {
    /// No more changes will come.
    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }
}

/// The executor, with its blocking client of slurmrestd (called on blocking threads).
#[derive(Clone)]
pub struct Slurm {
    cfg: SlurmConfig,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Slurm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slurm").field("cfg", &self.cfg).finish()
    }
}

impl Slurm {
    pub fn new(cfg: SlurmConfig) -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
            cfg,
        }
    }

    fn request(&self, method: &str, tail: &str) -> ureq::Request {
        let c = &self.cfg;
        self.agent
            .request(
                method,
                &format!("{}/slurm/{}/{tail}", c.url.trim_end_matches('/'), c.api),
            )
            .set("X-SLURM-USER-NAME", &c.user)
            .set("X-SLURM-USER-TOKEN", &c.token)
    }

    fn answer(res: Result<ureq::Response, ureq::Error>) -> Result<Value, String> {
        let (code, body) = match res {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => return Err(format!("slurmrestd cannot be reached: {e}")),
        };
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let errors: Vec<String> = v["errors"]
            .as_array()
            .map(|es| {
                es.iter()
                    .map(|e| {
                        e["error"]
                            .as_str()
                            .or(e["description"].as_str())
                            .unwrap_or("error")
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !(200..300).contains(&code) || !errors.is_empty() {
            return Err(format!("slurmrestd answered {code}: {}", errors.join("; ")));
        }
        Ok(v)
    }

    /// What `submit` sends: the worker of `run` as a batch script, with its job's token.
    pub fn job_request(&self, run: i64, token: &str) -> Value {
        let c = &self.cfg;
        let script = format!(
            "#!/bin/sh\nexec '{}' worker --server '{}' --run {run}\n",
            c.worker_program.display(),
            c.server_url
        );
        let mut job = json!({
            "name": format!("anneal-run-{run}"),
            "current_working_directory": "/tmp",
            "environment": {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                TOKEN_ENV: token,
                "ANNEAL_DATA_DIR": c.node_data_dir,
                "RUST_LOG": "warn",
            },
            "standard_output": c.log_dir.join("anneal-%j.out"),
            "standard_error": c.log_dir.join("anneal-%j.out"),
            "cpus_per_task": c.cpus_per_job,
        });
        if let Some(p) = &c.partition {
            job["partition"] = json!(p);
        }
        if let Some(mb) = c.memory_mb_per_job {
            job["memory_per_node"] = json!(mb);
        }
        if let Some(n) = c.gpus_per_job {
            job["tres_per_node"] = json!(format!("gres:gpu:{n}"));
        }
        json!({"script": script, "job": job})
    }

    /// Submits the worker of `run` and answers the Slurm job id.
    pub fn submit(&self, run: i64, token: &str) -> Result<String, String> {
        let body = self.job_request(run, token);
        let v = Self::answer(
            self.request("POST", "job/submit")
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
        )?;
        v["job_id"]
            .as_u64()
            .map(|id| id.to_string())
            .ok_or_else(|| format!("slurmrestd gave no job id: {v}"))
    }

    pub fn state(&self, job: &str) -> Result<JobState, String> {
        let v = Self::answer(self.request("GET", &format!("job/{job}")).call())?;
        let j = &v["jobs"][0];
        let state = j["job_state"]
            .as_str()
            .map(SlurmState::parse)
            .ok_or_else(|| format!("slurmrestd knows no job {job}"))?;
        let node = j["nodes"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        Ok(JobState { state, node })
    }

    pub fn cancel(&self, job: &str) -> Result<(), String> {
        Self::answer(self.request("DELETE", &format!("job/{job}")).call()).map(|_| ())
    }
}

/// Runs a blocking Slurm call on a blocking thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| "a Slurm call panicked".to_owned())
}

impl Executor for Slurm {
    fn name(&self) -> ExecutorName {
        ExecutorName::Slurm
    }

    /// Runs on the cluster use none of this machine's compute: as many jobs may be in flight
    /// as the cluster setting allows (the headless CLI, with no slots, runs none).
    fn slots(&self, local: usize) -> usize {
        if local > 0 {
            self.cfg.max_jobs.max(local)
        } else {
            local
        }
    }

    fn left_running<'a>(&'a self, db: &'a Db) -> BoxFut<'a, Result<Vec<(i64, String)>, DbError>> {
        Box::pin(db.adoptable_slurm_runs())
    }

    fn train<'a>(
        &'a self,
        host: &'a dyn Host,
        job: RunJob,
        stop: StopFlag,
    ) -> BoxFut<'a, Result<Finished<()>, String>> {
        Box::pin(self.train_in_jobs(host, job, stop))
    }
}

impl Slurm {
    /// Trains a claimed run as Slurm jobs: one, or a new one into the same run each time a
    /// job is lost without reporting its end.
    async fn train_in_jobs(
        &self,
        host: &dyn Host,
        job: RunJob,
        stop: StopFlag,
    ) -> Result<Finished<()>, String> {
        let id = job.run.id;
        let mut lost = 0;
        let mut adopt = job.adopt;
        loop {
            match self.one_job(host, id, &stop, adopt.take()).await? {
                Some(done) => return Ok(done),
                None if lost < RESUBMITS => {
                    lost += 1;
                    tracing::warn!(
                        run.id = id,
                        attempt = lost,
                        "the Slurm job ended without a report; resubmitting into the same run"
                    );
                }
                // Lost again and again: leave it interrupted, for Resume.
                None => return Ok(Finished::Stopped { at_step: None }),
            }
        }
    }

    /// One job; None when it ended without reporting (the run continues in a new job).
    async fn one_job(
        &self,
        host: &dyn Host,
        id: i64,
        stop: &StopFlag,
        adopt: Option<String>,
    ) -> Result<Option<Finished<()>>, String> {
        let job = match adopt {
            // Its worker still holds its token (stored hashed): only watch it.
            Some(job) => {
                host.adopt_worker(id, stop);
                job
            }
            None => self.submit_job(host, id, stop).await?,
        };
        self.watch_job(host, id, stop, job).await
    }

    /// Hands the run to a new Slurm job with a fresh token; answers the job id.
    async fn submit_job(
        &self,
        host: &dyn Host,
        id: i64,
        stop: &StopFlag,
    ) -> Result<String, String> {
        let token = host.hand_to_worker(id, self.name(), stop).await?;
        let s = self.clone();
        let submitted = blocking(move || s.submit(id, &token)).await.and_then(|r| r);
        let job = match submitted {
            Ok(j) => j,
            Err(e) => {
                host.take_worker_end(id).await;
                tracing::error!(run.id = id, error = %e, "Slurm submission failed");
                return Err(format!("Slurm refused the job: {e}"));
            }
        };
        tracing::info!(run.id = id, slurm.job = %job, "submitted to Slurm");
        host.record_placement(id, &job, None).await.map_err(|e| {
            tracing::error!(run.id = id, error = %e, "recording a Slurm job id failed");
            "the server could not record this run's Slurm job".to_owned()
        })?;
        Ok(job)
    }

    /// Polls the job until it ends, cancelling it if its worker does not stop when told or goes
    /// silent past `stale_after` while running, and recording its node once known. Answers its
    /// last state.
    async fn poll_until_final(
        &self,
        host: &dyn Host,
        id: i64,
        stop: &StopFlag,
        job: &str,
    ) -> JobState {
        let mut told_at: Option<Instant> = None;
        let mut node_known = false;
        let mut cancel_sent = false;
        // Silence counts from when Slurm says the job runs: a pending job has no worker yet.
        let mut running_since: Option<Instant> = None;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (s, j) = (self.clone(), job.to_owned());
            let state = match blocking(move || s.state(&j)).await.and_then(|r| r) {
                Ok(st) => st,
                Err(e) => {
                    // slurmrestd may be restarting; the job goes on meanwhile.
                    tracing::warn!(run.id = id, error = %e, "polling Slurm failed");
                    continue;
                }
            };
            if !node_known && let Some(n) = &state.node {
                node_known = true;
                if let Err(e) = host.record_placement(id, job, Some(n)).await {
                    tracing::warn!(run.id = id, error = %e, "recording a Slurm job's node failed");
                }
            }
            if state.is_final() {
                return state;
            }
            let hung = if state.state == SlurmState::Running {
                let running = running_since.get_or_insert_with(Instant::now).elapsed();
                let silent = host
                    .worker_silent_for(id)
                    .map_or(running, |s| s.min(running));
                silent > self.cfg.stale_after
            } else {
                running_since = None;
                false
            };
            if hung && !cancel_sent {
                tracing::warn!(run.id = id, slurm.job = %job, "the job's worker went silent; cancelling it");
                cancel_sent = true;
                let (s, j) = (self.clone(), job.to_owned());
                let _ = blocking(move || s.cancel(&j)).await;
            }
            if stop.is_raised()
                && !cancel_sent
                && told_at.get_or_insert_with(Instant::now).elapsed() > STOP_GRACE
            {
                cancel_sent = true;
                let (s, j) = (self.clone(), job.to_owned());
                let _ = blocking(move || s.cancel(&j)).await;
            }
        }
    }

    /// Waits for a job to end and turns its end into the run's outcome (None: lost without a
    /// report).
    async fn watch_job(
        &self,
        host: &dyn Host,
        id: i64,
        stop: &StopFlag,
        job: String,
    ) -> Result<Option<Finished<()>>, String> {
        let last = self.poll_until_final(host, id, stop, &job).await;
        let end = host.take_worker_end(id).await;
        tracing::info!(run.id = id, slurm.job = %job, state = %last.state, "Slurm job ended");
        Ok(match end {
            Some(end) => Some(reported(end, host.data_dir())?),
            None if stop.is_raised() => Some(Finished::Stopped { at_step: None }),
            None if last.state == SlurmState::OutOfMemory => {
                return Err("the Slurm job ran out of memory (OUT_OF_MEMORY): raise ANNEAL_SLURM_MEMORY_MB or shrink the run".into());
            }
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SlurmConfig {
        SlurmConfig {
            url: "http://head:6820".into(),
            api: "v0.0.38".into(),
            user: "lab".into(),
            token: "jwt".into(),
            partition: Some("gpu".into()),
            cpus_per_job: 4,
            max_jobs: 8,
            memory_mb_per_job: Some(16_000),
            gpus_per_job: Some(1),
            worker_program: "/opt/anneal/anneal".into(),
            server_url: "http://head:3000".into(),
            node_data_dir: "/data/anneal".into(),
            log_dir: "/scratch/logs".into(),
            stale_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_job_request_carries_what_the_worker_needs_and_the_resources() {
        let body = Slurm::new(config()).job_request(7, "job-token");
        let script = body["script"].as_str().unwrap_or_default();
        assert!(
            script.contains("'/opt/anneal/anneal' worker --server 'http://head:3000' --run 7"),
            "{script}"
        );
        let job = &body["job"];
        assert_eq!(job["environment"][TOKEN_ENV], "job-token");
        assert_eq!(job["environment"]["ANNEAL_DATA_DIR"], "/data/anneal");
        assert_eq!(
            (job["cpus_per_task"].clone(), job["memory_per_node"].clone()),
            (json!(4), json!(16_000))
        );
        assert_eq!(
            (job["partition"].clone(), job["tres_per_node"].clone()),
            (json!("gpu"), json!("gres:gpu:1"))
        );
        assert_eq!(job["standard_output"], "/scratch/logs/anneal-%j.out");
    }

    #[test]
    fn final_states_are_told_apart() {
        let s = |st: &str| JobState {
            state: SlurmState::parse(st),
            node: None,
        };
        assert!(!s("PENDING").is_final() && !s("RUNNING").is_final());
        assert!(
            s("COMPLETED").is_final() && s("CANCELLED").is_final() && s("NODE_FAIL").is_final()
        );
    }

    #[test]
    fn cluster_runs_get_slots_of_their_own_but_the_headless_cli_none() {
        let slurm = Slurm::new(SlurmConfig {
            max_jobs: 8,
            ..config()
        });
        assert_eq!(
            (slurm.slots(0), slurm.slots(2), slurm.slots(16)),
            (0, 8, 16)
        );
    }

    #[test]
    fn states_read_back_as_slurm_writes_them() {
        for name in ["PENDING", "OUT_OF_MEMORY", "NODE_FAIL", "SPECIAL_EXIT"] {
            assert_eq!(SlurmState::parse(name).as_str(), name);
        }
        assert_eq!(SlurmState::parse("OUT_OF_MEMORY"), SlurmState::OutOfMemory);
        assert!(SlurmState::parse("SPECIAL_EXIT").is_final());
    }
}
