//! Wire types: what crosses between server and browser (JSON over server functions, REST and SSE),
//! and what the service's operations answer.

use std::collections::BTreeMap;

pub use schedule::FieldError;
use serde::{Deserialize, Serialize};

use crate::metric::Metric;
pub use experiment::RunSpec;
pub use experiment::landscape::{Landscape, LandscapeMethod, LandscapeSpec};

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

/// How charts and tables name a sweep's schedule-free baseline.
pub const BASELINE_LABEL: &str = "schedule-free";

/// One run of a sweep: the main path (`branch_at` None) or the branch that decays at k.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRun {
    pub branch_at: Option<u64>,
    /// The replicate's training seed (its run spec's `seed`).
    #[serde(default)]
    pub seed: u64,
    /// The seed's schedule-free baseline (no decay; `branch_at` is None).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline: bool,
    pub run: RunSummary,
}

impl SweepRun {
    /// Whether it plays `role` (None = the main path, Some(k) = the branch decaying at k); a
    /// baseline plays neither.
    pub fn plays(&self, role: Option<u64>) -> bool {
        !self.baseline && self.branch_at == role
    }

    /// "main", "decay @ k" or "schedule-free".
    pub fn label(&self) -> String {
        if self.baseline {
            BASELINE_LABEL.into()
        } else {
            SweepSummary::role_label(self.branch_at)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub id: i64,
    pub name: String,
    pub spec: experiment::SweepSpec,
    pub created_at_ms: i64,
    /// Per seed, in the order seeds were added: its main run, then its branches in order of k.
    pub runs: Vec<SweepRun>,
}

impl SweepSummary {
    /// What `branch_at` counts: steps for the toy model, epochs for networks.
    pub fn unit(&self) -> &'static str {
        match self.spec.main.experiment {
            experiment::Experiment::Toy(_) => "step",
            experiment::Experiment::Net(_) => "epoch",
        }
    }

    /// The sweep's seeds, in the order they were added.
    pub fn seeds(&self) -> Vec<u64> {
        let mut seeds: Vec<u64> = Vec::new();
        for r in &self.runs {
            if !seeds.contains(&r.seed) {
                seeds.push(r.seed);
            }
        }
        seeds
    }

    /// The roles of its runs, main path first: None for the main path, Some(k) for each
    /// decay point, in order of k.
    pub fn roles(&self) -> Vec<Option<u64>> {
        let mut ks: Vec<u64> = self.runs.iter().filter_map(|r| r.branch_at).collect();
        ks.sort_unstable();
        ks.dedup();
        std::iter::once(None)
            .chain(ks.into_iter().map(Some))
            .collect()
    }

    /// A role as charts name it: "main" or "decay @ k".
    pub fn role_label(role: Option<u64>) -> String {
        role.map_or("main".into(), |k| format!("decay @ {k}"))
    }

    /// The main run of `seed`.
    pub fn main_of(&self, seed: u64) -> Option<&SweepRun> {
        self.runs.iter().find(|r| r.seed == seed && r.plays(None))
    }

    /// The decay point of `run_id`; None for the main run (or a run not in this sweep).
    pub fn branch_at(&self, run_id: i64) -> Option<u64> {
        self.runs
            .iter()
            .find(|r| r.run.id == run_id)
            .and_then(|r| r.branch_at)
    }

    /// The step a run's own path starts at: its branch point, 0 for the main run.
    pub fn branch_from_step(&self, run_id: i64) -> u64 {
        self.branch_at(run_id)
            .map_or(0, |k| k * self.spec.unit_steps())
    }
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

/// What a share link points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareKind {
    Run,
    Sweep,
    Landscape,
}

impl ShareKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Sweep => "sweep",
            Self::Landscape => "landscape",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "run" => Self::Run,
            "sweep" => Self::Sweep,
            "landscape" => Self::Landscape,
            _ => return None,
        })
    }
}

/// Longest a share link may live when it has an expiry: one year.
pub const MAX_SHARE_HOURS: u32 = 24 * 365;

/// A request to freeze a result behind a new share link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    pub kind: ShareKind,
    pub id: i64,
    /// The link stops working this many hours after creation; none means until revoked.
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
}

impl ShareRequest {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Vec::new();
        if self.id < 1 {
            errs.push(FieldError {
                field: "id".into(),
                message: "must be a positive id".into(),
            });
        }
        if let Some(h) = self.expires_in_hours
            && !(1..=MAX_SHARE_HOURS).contains(&h)
        {
            errs.push(FieldError {
                field: "expires_in_hours".into(),
                message: format!("must be between 1 and {MAX_SHARE_HOURS} hours"),
            });
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// A new link. The token is shown once: the server keeps only its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareCreated {
    pub id: i64,
    pub token: String,
    /// Path of the page, `/s/<token>`.
    pub url: String,
    pub expires_at_ms: Option<i64>,
}

/// A link as its owner lists it (never with its token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub id: i64,
    pub kind: ShareKind,
    pub target_id: i64,
    pub title: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

impl ShareInfo {
    /// Whether the link still opens its page at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|e| now_ms < e)
    }
}

/// A frozen result page: everything it shows, copied when the link was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedPage {
    pub title: String,
    /// When the snapshot was taken.
    pub taken_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub body: SharedBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SharedBody {
    Run {
        run: RunSummary,
        points: Vec<MetricPoint>,
    },
    Sweep {
        sweep: SweepSummary,
        metrics: Vec<RunMetrics>,
    },
    Landscape {
        landscape: LandscapeSummary,
        result: Landscape,
    },
}

/// What a landscape is computed over: one run's trajectory, or a sweep's main path and branches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LandscapeSource {
    Run { id: i64 },
    Sweep { id: i64 },
}

/// A request to compute a loss landscape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeRequest {
    pub source: LandscapeSource,
    pub spec: LandscapeSpec,
}

/// A landscape job as lists and pages show it; the computed maps are fetched separately.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LandscapeSummary {
    pub id: i64,
    pub name: String,
    pub source: LandscapeSource,
    pub spec: LandscapeSpec,
    pub status: RunStatus,
    pub progress: Option<LandscapeProgress>,
    pub message: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

/// Where a running landscape job stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LandscapeProgress {
    /// "loading", "pca" or "grid".
    pub phase: String,
    pub done: u64,
    pub total: u64,
}

/// A queued run or landscape job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub id: i64,
}

/// A queued sweep: its id and its runs, main run first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepCreated {
    pub id: i64,
    pub runs: Vec<i64>,
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

/// More seeds for a finished (or running) sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSeeds {
    pub seeds: Vec<u64>,
}

/// A sweep as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepItem {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
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

/// The answer to a revoke: false when the link was already revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: bool,
}

/// One stored metric row of a run, with its event seq.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub seq: i64,
    pub step: u64,
    pub epoch: f64,
    pub values: BTreeMap<String, f64>,
}

/// Which landscapes a list shows: one run's, one sweep's, or (neither) all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeFilter {
    #[serde(default)]
    pub run: Option<i64>,
    #[serde(default)]
    pub sweep: Option<i64>,
}

/// A sweep's verdict: per decay point over seeds, the per-seed rows, the paired effects,
/// Pearson r and the conclusion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub sweep: i64,
    pub unit: String,
    /// The sweep's seeds, in the order they were added.
    pub seeds: Vec<u64>,
    /// One per decay point with a finished seed, in order of k.
    pub branches: Vec<crate::analysis::BranchSummary>,
    /// One per finished (seed, decay point).
    pub per_seed: Vec<crate::analysis::BranchResult>,
    /// Each final metric's paired difference, latest minus earliest decay point.
    pub effect: BTreeMap<String, crate::stats::Effect>,
    /// The pooled r (kept for scripts written before replicates).
    pub pearson_k_test_loss: Option<f64>,
    pub pearson: crate::analysis::PearsonReport,
    /// How the intervals are computed.
    pub method: String,
    /// The schedule-free baseline, when the sweep has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::analysis::BaselineSummary>,
    pub conclusion: String,
}

impl SweepReport {
    /// Seeds with at least one finished branch.
    pub fn seeds_finished(&self) -> usize {
        let mut s: Vec<u64> = self.per_seed.iter().map(|r| r.seed).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    }
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
