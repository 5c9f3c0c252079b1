//! How the trainer talks to the outside: events into a [`Sink`], and a [`StopFlag`] coming in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use domain::wire::MetricPoint;
use serde::{Deserialize, Serialize};

/// Everything a run reports, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Training is about to start on this device.
    Started {
        backend: String,
        device: String,
        total_steps: u64,
        steps_per_epoch: u64,
    },
    /// One row of metrics at an evaluation point: `step` optimizer steps and `epoch` passes
    /// over the training set (fractional) completed. Keys carry their unit or meaning
    /// (`train_loss`, `lr`, `w_norm`, ...); the UI plots whatever keys it receives. The same
    /// type the server stores and streams.
    Metric(MetricPoint),
    /// A checkpoint after `epoch` epochs was written to `dir`.
    Checkpoint {
        epoch: u32,
        step: u64,
        dir: std::path::PathBuf,
    },
    /// A heartbeat between metric rows; cheap, may be dropped by the receiver.
    Progress {
        step: u64,
        total_steps: u64,
        samples_per_sec: f64,
    },
}

/// The receiver could not take an event; training stops rather than lose results.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where events go: a database in the server, a progress bar in the CLI, a Vec in tests.
pub trait Sink: Send {
    fn emit(&mut self, event: Event) -> Result<(), SinkError>;
}

impl Sink for Vec<Event> {
    fn emit(&mut self, event: Event) -> Result<(), SinkError> {
        self.push(event);
        Ok(())
    }
}

/// Raised from another thread to stop training at the next step boundary.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
