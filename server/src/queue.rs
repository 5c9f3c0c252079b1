//! The one job queue, for every kind of job (training runs, landscapes): workers that wait for
//! a compute slot (the slots are shared by all kinds), claim the next queued job, and run it;
//! the stop flags of running jobs, for cancel and shutdown; and how a job ended, which each
//! kind turns into its own stored status. Where a job runs is the kind's `execute`: landscapes
//! in this process, runs wherever the run service's executor puts them (see `crate::executor`).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::BoxFut;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use trainer::StopFlag;

use crate::db::DbError;

/// How a job's own work came back.
#[derive(Debug)]
pub enum Finished<T> {
    Completed(T),
    /// It saw its stop flag and returned early, after `at_step` when it counts steps.
    Stopped {
        at_step: Option<u64>,
    },
}

/// How a job ended, as the queue saw it; the kind records it.
pub enum Ended<T> {
    Completed(T),
    /// A user's cancel stopped it.
    Cancelled {
        at_step: Option<u64>,
    },
    /// The server shut down while it ran.
    Interrupted {
        at_step: Option<u64>,
    },
    /// It failed; the message is safe to show.
    Failed(String),
    /// Its task panicked (the detail is in the log).
    Panicked,
}

/// A claim's answer: the job's id and what it carries, or None when nothing is queued.
pub type Claim<'a, J> = BoxFut<'a, Result<Option<(i64, J)>, DbError>>;

/// A kind of job the queue runs.
pub trait JobKind: Send + Sync + Sized + 'static {
    /// What a claimed job carries into `execute`.
    type Job: Send + 'static;
    /// What a completed job hands to `finish`.
    type Output: Send + 'static;
    /// The word logs use: "run", "landscape".
    const NOUN: &'static str;

    fn queue(&self) -> &JobQueue<Self>;
    /// Claims the oldest queued job, marking it running in storage.
    fn claim_next(&self) -> Claim<'_, Self::Job>;
    /// Does the job's work; `stop` is raised by a cancel or a shutdown.
    fn execute(
        self: Arc<Self>,
        id: i64,
        job: Self::Job,
        stop: StopFlag,
    ) -> BoxFut<'static, Result<Finished<Self::Output>, String>>;
    /// Records how the job ended.
    fn finish(&self, id: i64, ended: Ended<Self::Output>) -> BoxFut<'_, Result<(), DbError>>;
}

struct Running {
    stop: StopFlag,
    by_user: bool,
}

/// The queue of one kind of job. Every kind draws on the same `slots`.
pub struct JobQueue<K> {
    slots: Arc<Semaphore>,
    running: Mutex<HashMap<i64, Running>>,
    shutting_down: AtomicBool,
    /// Wakes an idle worker when a job is queued.
    wake: Notify,
    /// Wakes workers that wait for a slot or for work when the server stops.
    stopping: Notify,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    kind: PhantomData<fn() -> K>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<K: JobKind> JobQueue<K> {
    pub fn new(slots: Arc<Semaphore>) -> Self {
        Self {
            slots,
            running: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            wake: Notify::new(),
            stopping: Notify::new(),
            workers: Mutex::default(),
            kind: PhantomData,
        }
    }

    /// Starts `n` workers for `kind` (0 for the headless CLI, which runs its one job itself).
    pub fn start_workers(&self, kind: &Arc<K>, n: usize) {
        let handles = (0..n).map(|_| {
            let kind = kind.clone();
            tokio::spawn(async move { work(kind).await })
        });
        lock(&self.workers).extend(handles);
    }

    /// Adds a task that lives as long as the workers (a watcher) and is awaited at shutdown.
    pub fn attach(&self, handle: tokio::task::JoinHandle<()>) {
        lock(&self.workers).push(handle);
    }

    /// A job was queued: wake a worker.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Resolves when shutdown begins (at once if it has).
    pub async fn stopped(&self) {
        let notified = self.stopping.notified();
        if !self.is_shutting_down() {
            notified.await;
        }
    }

    /// Raises the stop flag of a running job as a user's cancel; false if it is not running here.
    fn cancel_running(&self, id: i64) -> bool {
        match lock(&self.running).get_mut(&id) {
            Some(r) => {
                r.by_user = true;
                r.stop.raise();
                true
            }
            None => false,
        }
    }

    /// Cancels a job that storage shows as running: raises its stop flag as a user's cancel.
    /// A worker of this process may have claimed it a moment ago and not yet registered the
    /// flag, so this waits up to a second for it before saying the job does not run here.
    pub async fn cancel_claimed(&self, id: i64) -> bool {
        for _ in 0..50 {
            if self.cancel_running(id) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// The jobs running in this process now.
    pub fn running_ids(&self) -> Vec<i64> {
        lock(&self.running).keys().copied().collect()
    }

    /// Stops the workers: running jobs see their stop flag and end as interrupted.
    pub async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for r in lock(&self.running).values() {
            r.stop.raise();
        }
        self.stopping.notify_waiters();
        self.wake.notify_waiters();
        let handles = std::mem::take(&mut *lock(&self.workers));
        for h in handles {
            let _ = h.await;
        }
    }

    /// Waits for a free compute slot; None once shutting down.
    async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        // A job of another kind may hold the only slot for hours; shutting down must not wait.
        tokio::select! {
            s = self.slots.clone().acquire_owned() => s.ok(),
            () = self.stopped() => None,
        }
    }

    /// Runs one claimed job to its end here, and records how it ended.
    pub async fn run(&self, kind: Arc<K>, id: i64, job: K::Job) {
        let stop = StopFlag::new();
        lock(&self.running).insert(
            id,
            Running {
                stop: stop.clone(),
                by_user: false,
            },
        );
        if self.is_shutting_down() {
            stop.raise();
        }
        tracing::info!(job.kind = K::NOUN, job.id = id, "job started");
        // Spawned, so a panic in the job comes back as an error instead of ending the worker.
        let result = tokio::spawn(kind.clone().execute(id, job, stop)).await;
        let by_user = lock(&self.running).remove(&id).is_some_and(|r| r.by_user);
        let ended = match result {
            Ok(Ok(Finished::Completed(out))) => Ended::Completed(out),
            Ok(Ok(Finished::Stopped { at_step })) if by_user => Ended::Cancelled { at_step },
            Ok(Ok(Finished::Stopped { at_step })) => Ended::Interrupted { at_step },
            Ok(Err(message)) => Ended::Failed(message),
            Err(join) => {
                tracing::error!(job.kind = K::NOUN, job.id = id, error = %join, "job panicked");
                Ended::Panicked
            }
        };
        tracing::info!(
            job.kind = K::NOUN,
            job.id = id,
            outcome = ended.word(),
            "job ended"
        );
        if let Err(e) = kind.finish(id, ended).await {
            tracing::error!(job.kind = K::NOUN, job.id = id, error = %e, "recording the end of a job failed");
        }
    }
}

impl<T> Ended<T> {
    fn word(&self) -> &'static str {
        match self {
            Self::Completed(_) => "completed",
            Self::Cancelled { .. } => "cancelled",
            Self::Interrupted { .. } => "interrupted",
            Self::Failed(_) => "failed",
            Self::Panicked => "panicked",
        }
    }
}

/// One worker: a slot, then a job, then the next.
async fn work<K: JobKind>(kind: Arc<K>) {
    let queue = kind.queue();
    while !queue.is_shutting_down() {
        let Some(slot) = queue.slot().await else {
            return;
        };
        match kind.claim_next().await {
            Ok(Some((id, job))) => {
                queue.run(kind.clone(), id, job).await;
                drop(slot);
                continue;
            }
            Ok(None) => drop(slot),
            Err(e) => {
                drop(slot);
                tracing::error!(job.kind = K::NOUN, error = %e, "claiming a queued job failed");
            }
        }
        // The timeout is a backstop for a wake-up missed between the claim and the wait.
        tokio::select! {
            () = queue.wake.notified() => {}
            () = queue.stopped() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
