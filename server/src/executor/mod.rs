//! Where a claimed run trains. Each executor is one file here implementing [`Executor`]:
//! `local` (in this process, on a blocking thread), `process` (an `anneal worker` child process
//! per run, so a run that exhausts memory fails alone) and `slurm` (a batch job per run on a
//! cluster, whose node runs the same worker). An executor sees the run service only through
//! [`Host`]: a sink for training here, handing a job to a worker and taking its end report,
//! and recording where the job runs.
//!
//! Adding an executor: a file here, its [`ExecutorName`], and its arm in `settings::executor`.

pub mod local;
pub mod process;
pub mod slurm;

use std::path::Path;
use std::time::Duration;

use domain::BoxFut;
use domain::wire::RunSummary;
use trainer::{Event, Sink, StopFlag};

use crate::db::{Db, DbError};
use crate::objects::StartingPoint;
use crate::queue::Finished;
use crate::worker::protocol::End;

/// How long a worker may take to stop on its own after being told to, before it is killed
/// (or its batch job cancelled).
const STOP_GRACE: Duration = Duration::from_secs(15);

/// An executor's name, as `ANNEAL_EXECUTOR` gives it and a run's row stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorName {
    Local,
    Process,
    Slurm,
}

impl ExecutorName {
    pub const ALL: [Self; 3] = [Self::Local, Self::Process, Self::Slurm];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Process => "process",
            Self::Slurm => "slurm",
        }
    }
}

impl std::fmt::Display for ExecutorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ExecutorName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|n| n.as_str()).collect();
                format!("{s:?}: use {}", or_list(&names))
            })
    }
}

/// "a, b or c".
fn or_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Sees every training event after it is recorded (the CLI's progress bar).
pub type Observer = Box<dyn FnMut(&Event) + Send>;

/// A claimed run, as an executor gets it.
pub struct RunJob {
    pub run: RunSummary,
    /// Who else watches its events, when it trains here.
    pub observer: Option<Observer>,
    /// A batch job already running this run (left by a previous server): wait for it.
    pub adopt: Option<String>,
}

/// Worker jobs lost without a word (a killed or hung worker process, a lost batch job) are
/// started again into the same run, from its last checkpoint, this many times before the run
/// is left interrupted for Resume.
pub(crate) const RESUBMITS: u32 = 3;

/// What an executor may ask of the run service.
pub trait Host: Send + Sync {
    /// Datasets and checkpoints live under this directory.
    fn data_dir(&self) -> &Path;
    /// Where the run starts: the checkpoint it resumes from and the last step it stored.
    fn starting_point(&self, run: i64) -> BoxFut<'_, Result<StartingPoint, DbError>>;
    /// Records events of a run trained in this process (called from a blocking thread), also
    /// showing each to `observer`; metric rows through `skip_through` are already stored.
    fn sink(
        &self,
        run: i64,
        skip_through: Option<u64>,
        observer: Option<Observer>,
    ) -> Box<dyn Sink + Send>;
    /// Hands the run to a new worker job of `executor`: a fresh token (answered, stored
    /// hashed), a fresh ingest counter, and `stop` for its heartbeats to answer.
    fn hand_to_worker<'a>(
        &'a self,
        run: i64,
        executor: ExecutorName,
        stop: &'a StopFlag,
    ) -> BoxFut<'a, Result<String, String>>;
    /// Watches a worker job a previous server handed out (its worker still holds its token).
    fn adopt_worker(&self, run: i64, stop: &StopFlag);
    /// How long the run's worker job has said nothing (no heartbeat since it was handed out or
    /// since its last one); None when no worker job of this server holds the run.
    fn worker_silent_for(&self, run: i64) -> Option<std::time::Duration>;
    /// Ends the run's worker job: its token dies, and how it said it ended comes back.
    fn take_worker_end(&self, run: i64) -> BoxFut<'_, Option<End>>;
    /// Records the batch system's job running the run and, once known, its node.
    fn record_placement<'a>(
        &'a self,
        run: i64,
        job: &'a str,
        node: Option<&'a str>,
    ) -> BoxFut<'a, Result<(), DbError>>;
}

/// A place runs train.
pub trait Executor: Send + Sync + std::fmt::Debug {
    fn name(&self) -> ExecutorName;

    /// How many runs may train at once when the server has `local` compute slots. Executors
    /// that use none of this machine's compute may allow more; the slots stay for landscapes.
    fn slots(&self, local: usize) -> usize {
        local
    }

    /// Runs this executor left running in a previous server's life that may still be training
    /// (run id, batch job id): a restarted server adopts them instead of interrupting them.
    fn left_running<'a>(&'a self, _db: &'a Db) -> BoxFut<'a, Result<Vec<(i64, String)>, DbError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Trains the run to its end, or until `stop` is raised.
    fn train<'a>(
        &'a self,
        host: &'a dyn Host,
        job: RunJob,
        stop: StopFlag,
    ) -> BoxFut<'a, Result<Finished<()>, String>>;
}

/// The run's outcome from the end its worker reported.
fn reported(end: End, data_dir: &Path) -> Result<Finished<()>, String> {
    match end {
        End::Completed => Ok(Finished::Completed(())),
        End::Stopped { at_step } => Ok(Finished::Stopped {
            at_step: Some(at_step),
        }),
        End::Failed { message } => Err(crate::redact::hide_paths(&message, data_dir)),
    }
}

/// A host that trains nothing and records what an executor asked of it.
#[cfg(test)]
pub(crate) mod fake {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use domain::BoxFut;
    use trainer::{Sink, StopFlag};

    use super::{ExecutorName, Host, Observer};
    use crate::db::DbError;
    use crate::objects::StartingPoint;
    use crate::worker::protocol::End;

    pub struct FakeHost {
        pub data_dir: PathBuf,
        /// What the executor asked, in order: "hand process 7", "end 7", "placed 7 job node".
        pub calls: Mutex<Vec<String>>,
        /// What the worker reports when its end is taken.
        pub end: Mutex<Option<End>>,
        /// How long the worker has been silent, as the executor asks.
        pub silent: Mutex<Option<std::time::Duration>>,
    }

    impl FakeHost {
        pub fn new() -> Self {
            Self {
                data_dir: PathBuf::from("/srv/anneal-data"),
                calls: Mutex::default(),
                end: Mutex::default(),
                silent: Mutex::default(),
            }
        }

        fn note(&self, call: String) {
            self.calls.lock().expect("calls").push(call);
        }

        pub fn calls(&self) -> Vec<String> {
            self.calls.lock().expect("calls").clone()
        }
    }

    impl Host for FakeHost {
        fn data_dir(&self) -> &Path {
            &self.data_dir
        }

        fn starting_point(&self, _run: i64) -> BoxFut<'_, Result<StartingPoint, DbError>> {
            Box::pin(async { Ok((None, None)) })
        }

        fn sink(
            &self,
            _run: i64,
            _skip_through: Option<u64>,
            _observer: Option<Observer>,
        ) -> Box<dyn Sink + Send> {
            unimplemented!("no executor under test trains here")
        }

        fn hand_to_worker<'a>(
            &'a self,
            run: i64,
            executor: ExecutorName,
            _stop: &'a StopFlag,
        ) -> BoxFut<'a, Result<String, String>> {
            self.note(format!("hand {executor} {run}"));
            Box::pin(async { Ok("job-token".to_owned()) })
        }

        fn adopt_worker(&self, run: i64, _stop: &StopFlag) {
            self.note(format!("adopt {run}"));
        }

        fn worker_silent_for(&self, _run: i64) -> Option<std::time::Duration> {
            *self.silent.lock().expect("silent")
        }

        fn take_worker_end(&self, run: i64) -> BoxFut<'_, Option<End>> {
            self.note(format!("end {run}"));
            Box::pin(async { self.end.lock().expect("end").take() })
        }

        fn record_placement<'a>(
            &'a self,
            run: i64,
            job: &'a str,
            node: Option<&'a str>,
        ) -> BoxFut<'a, Result<(), DbError>> {
            self.note(format!("placed {run} {job} {}", node.unwrap_or("-")));
            Box::pin(async { Ok(()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_failure_does_not_show_the_data_directory() {
        let end = End::Failed {
            message: "cannot read /srv/anneal-data/tiny/train.idx".into(),
        };
        assert_eq!(
            reported(end, Path::new("/srv/anneal-data"))
                .err()
                .as_deref(),
            Some("cannot read <data dir>/tiny/train.idx")
        );
    }

    #[test]
    fn names_read_back_as_they_are_written() {
        for n in ExecutorName::ALL {
            assert_eq!(n.as_str().parse::<ExecutorName>(), Ok(n));
        }
        assert_eq!(
            "kubernetes".parse::<ExecutorName>(),
            Err("\"kubernetes\": use local, process or slurm".into())
        );
    }
}
