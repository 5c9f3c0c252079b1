//! Anneal's training engine on Burn: synchronous and web-free. It reports through a [`Sink`]
//! and stops when its [`StopFlag`] is raised; callers decide where events go.
//!
//! Every binary that trains (the `anneal` server and worker, the benches, examples and
//! integration tests here) declares mimalloc as its global allocator; a library cannot choose
//! that for the crates that use it. A training step frees and reallocates activations and
//! gradients of tens of MiB, many of them from rayon's threads; glibc's per-thread arenas hand
//! such blocks back to the kernel and fault their pages in again on the next step (a VGG-11
//! step on CPU took 156 ms, 141 ms with `MALLOC_ARENA_MAX=1`). With mimalloc, VGG-11 trained at
//! a median 834 samples/s against glibc's 805 (train_throughput, 3 interleaved rounds of 3,
//! 2 threads), for a peak RSS of 200 MiB instead of 120 in one step.

pub mod device;
pub mod landscape;
pub mod net;
pub mod sink;
pub mod toy;

use std::path::PathBuf;

pub use device::{DeviceInfo, run_on};
pub use domain::wire::MetricPoint;
pub use sink::{Event, Sink, SinkError, StopFlag};

/// Why a run did not finish.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid run spec: {0}")]
    InvalidSpec(String),
    #[error("data: {0}")]
    Data(#[from] datasets::DataError),
    #[error("the {0} backend is not compiled into this binary (rebuild with `--features {0}`)")]
    BackendUnavailable(&'static str),
    #[error("no device for this backend: {0}")]
    NoDevice(String),
    #[error("could not record results: {0}")]
    Sink(#[from] SinkError),
    #[error("tensor data: {0}")]
    Tensor(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("training diverged at step {step}: {what} is not finite")]
    Diverged { step: u64, what: &'static str },
}

/// How a run ended when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// The stop flag was raised; rows up to the last reported step are complete.
    Stopped {
        at_step: u64,
    },
}

/// Where a run finds its data and keeps its checkpoints, and whether it continues from one.
#[derive(Clone, Debug, Default)]
pub struct TrainContext {
    /// Root that relative dataset folders are resolved against (the server's data directory).
    pub data_root: PathBuf,
    /// Checkpoints go to `checkpoint_dir/epoch-NNNNNN/`; none are written when absent.
    pub checkpoint_dir: Option<PathBuf>,
    /// A checkpoint folder to continue from (resume, or branch with another schedule).
    pub resume_from: Option<PathBuf>,
}

/// Trains one run described by `spec` on the backend it names.
pub fn train(
    spec: &experiment::RunSpec,
    ctx: &TrainContext,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> Result<Outcome, TrainError> {
    if let Err(errs) = spec.validate() {
        let msg = errs
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(TrainError::InvalidSpec(msg));
    }
    match &spec.experiment {
        experiment::Experiment::Toy(toy) => {
            let job = toy::ToyJob {
                spec: toy,
                schedule: &spec.schedule,
                seed: spec.seed,
                data_seed: spec.data_seed(),
                sink,
                stop,
            };
            run_on(spec.backend, job)
        }
        experiment::Experiment::Net(net) => {
            let job = net::train::NetJob {
                spec: net,
                schedule: &spec.schedule,
                seed: spec.seed,
                data_seed: spec.data_seed(),
                ctx,
                sink,
                stop,
            };
            run_on(spec.backend, job)
        }
    }
}
