//! What the run service gives its executor ([`Host`]): a sink for training here, hand-offs to
//! worker jobs and their end reports, and where a batch job runs.

use std::path::Path;
use std::time::Instant;

use domain::BoxFut;
use trainer::{Sink, StopFlag};

use super::RunService;
use super::sink::DbSink;
use crate::db::DbError;
use crate::executor::{ExecutorName, Host, Observer};
use crate::objects::StartingPoint;
use crate::worker::protocol::End;

impl Host for RunService {
    fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn starting_point(&self, run: i64) -> BoxFut<'_, Result<StartingPoint, DbError>> {
        Box::pin(self.store.starting_point(&self.db, run))
    }

    fn sink(
        &self,
        run: i64,
        skip_through: Option<u64>,
        observer: Option<Observer>,
    ) -> Box<dyn Sink + Send> {
        Box::new(DbSink {
            db: self.db.clone(),
            events: self.events.clone(),
            store: self.store.clone(),
            handle: tokio::runtime::Handle::current(),
            run_id: run,
            last_progress: None,
            last_heartbeat: Instant::now(),
            skip_through,
            observer,
        })
    }

    fn hand_to_worker<'a>(
        &'a self,
        run: i64,
        executor: ExecutorName,
        stop: &'a StopFlag,
    ) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let token = crate::tokens::new_token();
            let hash = crate::tokens::hash_token(&token);
            self.db
                .dispatch_worker(run, executor.as_str(), &hash)
                .await
                .map_err(|e| {
                    tracing::error!(run.id = run, error = %e, "dispatching a worker failed in storage");
                    "the server could not hand this run to a worker".to_owned()
                })?;
            self.worker_jobs.start(run, stop.clone());
            Ok(token)
        })
    }

    fn adopt_worker(&self, run: i64, stop: &StopFlag) {
        self.worker_jobs.adopt(run, stop.clone());
    }

    fn worker_silent_for(&self, run: i64) -> Option<std::time::Duration> {
        self.worker_jobs.silent_for(run)
    }

    fn take_worker_end(&self, run: i64) -> BoxFut<'_, Option<End>> {
        Box::pin(async move {
            let end = self.worker_jobs.finish(run);
            // Logged rather than passed on: the end is decided either way, and the next hand-off
            // (a new token) or the run leaving `running` shuts the old token out soon after.
            if let Err(e) = self.db.revoke_worker(run).await {
                tracing::error!(run.id = run, error = %e, "revoking a worker job's token failed");
            }
            end
        })
    }

    fn record_placement<'a>(
        &'a self,
        run: i64,
        job: &'a str,
        node: Option<&'a str>,
    ) -> BoxFut<'a, Result<(), DbError>> {
        Box::pin(self.db.set_executor_job(run, job, node))
    }
}
