//! Runs on the wire: a run as lists and pages show it, its metric rows and live events, and
//! what queueing, cancelling and resuming answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metric::Metric;
use experiment::RunSpec;

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
    #[serde(default)]
    pub lineage: Lineage,
    /// Where it trained: "local" (in the server), "process" (a worker process); none before
    /// it started.
    #[serde(default)]
    pub executor: Option<String>,
    /// The batch system's job id (Slurm), and the node the job ran on.
    #[serde(default)]
    pub executor_job_id: Option<String>,
    #[serde(default)]
    pub executor_node: Option<String>,
}

/// Where a run comes from: its sweep, and for a branch its parent and decay point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    pub sweep_id: Option<i64>,
    pub parent_id: Option<i64>,
    /// The decay point, in the sweep's unit (steps for the toy model, epochs for networks).
    pub branch_at: Option<u64>,
}

/// A run's stored metric rows, for charts that show many runs at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    pub run_id: i64,
    pub points: Vec<MetricPoint>,
}

/// SSE `metric` payload (event id = per-run seq).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub step: u64,
    pub epoch: f64,
    /// Reading skips a value that is not a number (`null`, as JSON writes a non-finite float),
    /// so a row stored by an older version can always be read.
    #[serde(deserialize_with = "numbers_only")]
    pub values: BTreeMap<String, f64>,
}

fn numbers_only<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let raw: BTreeMap<String, Option<f64>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| v.is_finite()).map(|v| (k, v)))
        .collect())
}

impl MetricPoint {
    /// One typed value of the row.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        crate::metric::get(&self.values, metric)
    }
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

/// A queued run or landscape job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub id: i64,
}

/// One run spec trained under several seeds, all on the spec's data (its data seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicateRequest {
    pub spec: RunSpec,
    pub seeds: Vec<u64>,
}

/// Queued runs, in the order of the seeds asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsCreated {
    pub runs: Vec<i64>,
}

/// The answer to a cancel: false when the job had already ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    pub cancelled: bool,
}

/// The answer to a resume: false when the run was not interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    pub resumed: bool,
}

/// One stored metric row of a run, with its event seq.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub seq: i64,
    pub step: u64,
    pub epoch: f64,
    pub values: BTreeMap<String, f64>,
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

    #[test]
    fn stored_rows_with_a_null_value_still_read() {
        let p: MetricPoint = serde_json::from_str(
            r#"{"step": 3, "epoch": 0.5, "values": {"lr": null, "train_loss": 0.25}}"#,
        )
        .expect("a row with a null reads");
        assert_eq!(p.values.len(), 1);
        assert_eq!(p.get(Metric::TrainLoss), Some(0.25));
        assert_eq!(p.get(Metric::Lr), None);
    }

    #[test]
    fn floats_survive_storage_and_serving_to_the_bit() {
        // A deterministic spread of magnitudes and mantissas, as metrics have.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v =
                f64::from_bits((x >> 12) | 0x3f00_0000_0000_0000) * 10f64.powi((x % 13) as i32 - 6);
            let p = MetricPoint {
                step: 1,
                epoch: v,
                values: BTreeMap::from([("train_loss".to_owned(), v)]),
            };
            let text = serde_json::to_string(&p).expect("serialises");
            let back: MetricPoint = serde_json::from_str(&text).expect("parses");
            assert_eq!(
                back.values["train_loss"].to_bits(),
                v.to_bits(),
                "{v:e} became {text}"
            );
        }
    }
}
