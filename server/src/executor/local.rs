//! The `local` executor: the run trains in this process, on a blocking thread, and its events
//! go straight to storage through the host's sink. It records its device itself, when
//! training starts.

use domain::BoxFut;
use trainer::{Outcome, StopFlag};

use super::{Executor, ExecutorName, Host, RunJob};
use crate::queue::Finished;
use crate::redact::hide_paths;

#[derive(Clone, Copy, Debug, Default)]
pub struct Local;

impl Executor for Local {
    fn name(&self) -> ExecutorName {
        ExecutorName::Local
    }

    fn train<'a>(
        &'a self,
        host: &'a dyn Host,
        job: RunJob,
        stop: StopFlag,
    ) -> BoxFut<'a, Result<Finished<()>, String>> {
        Box::pin(train_here(host, job, stop))
    }
}

async fn train_here(host: &dyn Host, job: RunJob, stop: StopFlag) -> Result<Finished<()>, String> {
    let id = job.run.id;
    let (resume_from, skip_through) = match host.starting_point(id).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(run.id = id, error = %e, "reading a run's checkpoints failed");
            (None, None)
        }
    };
    let data_dir = host.data_dir();
    let ctx = trainer::TrainContext {
        data_root: data_dir.to_path_buf(),
        checkpoint_dir: Some(data_dir.join("checkpoints").join(format!("run-{id}"))),
        resume_from,
    };
    let mut sink = host.sink(id, skip_through, job.observer);
    let spec = job.run.spec;
    let result =
        tokio::task::spawn_blocking(move || trainer::train(&spec, &ctx, sink.as_mut(), &stop))
            .await;
    match result {
        Ok(Ok(Outcome::Completed)) => Ok(Finished::Completed(())),
        Ok(Ok(Outcome::Stopped { at_step })) => Ok(Finished::Stopped {
            at_step: Some(at_step),
        }),
        Ok(Err(e)) => Err(hide_paths(&e.to_string(), data_dir)),
        // The queue reports a panic as one; pass it on.
        Err(join) => match join.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err("internal error while training".into()),
        },
    }
}
