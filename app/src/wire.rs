//! Wire types: what crosses between server and browser (JSON over server functions, REST and SSE).

use std::collections::BTreeMap;

pub use schedule::FieldError;
use serde::{Deserialize, Serialize};
pub use spec::RunSpec;

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    /// The server stopped (crash or shutdown) while the run was training.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "interrupted" => Self::Interrupted,
            _ => return None,
        })
    }

    /// No more events will follow.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Interrupted
        )
    }
}

/// A run as lists and pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: i64,
    pub name: String,
    pub status: RunStatus,
    /// Why it failed or was interrupted, in user terms.
    pub message: Option<String>,
    pub spec: RunSpec,
    /// Set once training starts: e.g. "flex" and "cpu (2 threads)".
    pub backend: Option<String>,
    pub device: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// Step of the newest metric row, if any.
    pub last_step: Option<u64>,
}

/// One run of a sweep: the main path (`branch_at` None) or the branch that decays at k.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRun {
    pub branch_at: Option<u64>,
    pub run: RunSummary,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub id: i64,
    pub name: String,
    pub spec: spec::SweepSpec,
    pub created_at_ms: i64,
    /// Main run first, then the branches in order of k.
    pub runs: Vec<SweepRun>,
}

/// A run's stored metric rows, for charts that show many runs at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    pub run_id: i64,
    pub points: Vec<MetricPoint>,
}

/// The answer to a launch: the new run, or what is wrong with the form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StartReply {
    Created { id: i64 },
    Invalid { errors: Vec<FieldError> },
}

/// SSE `metric` payload (event id = per-run seq).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub step: u64,
    pub epoch: f64,
    pub values: BTreeMap<String, f64>,
}

/// SSE `status` and `done` payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl StatusChange {
    /// A change of status, with an optional reason, and no device information.
    pub fn new(status: RunStatus, message: Option<String>) -> Self {
        Self {
            status,
            message,
            backend: None,
            device: None,
        }
    }
}

/// SSE `progress` payload: a heartbeat, never stored, so it carries no id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: u64,
    pub total_steps: u64,
    pub samples_per_sec: f64,
}

/// URL of a run's event stream.
pub fn events_url(id: i64) -> String {
    format!("/api/runs/{id}/events")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Cancelled,
            RunStatus::Interrupted,
        ] {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).ok(),
                Some(format!("\"{}\"", s.as_str()))
            );
        }
        assert_eq!(RunStatus::parse("bogus"), None);
    }
}
