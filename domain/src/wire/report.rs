//! A sweep's report on the wire: the final metrics per seed and per decay point, the paired
//! effects, Pearson r, the schedule-free baseline and the verdict. `crate::analysis` computes
//! it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metric::Metric;
use crate::stats::{Effect, PooledR, Stat};

/// The final metrics a sweep summarises over seeds, in the order a verdict names them.
pub const FINAL_METRICS: [Metric; 4] = [
    Metric::TestLoss,
    Metric::TestAcc,
    Metric::TrainLoss,
    Metric::DistMn,
];

/// One finished branch of one seed of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchResult {
    /// The replicate's training seed.
    #[serde(default)]
    pub seed: u64,
    /// Decay point, in the sweep's unit (steps for the toy model, epochs for networks).
    pub k: u64,
    /// Training length in the same unit (k + branch length).
    pub length: u64,
    /// Wall-clock seconds of training, when known.
    pub seconds: Option<f64>,
    pub test_loss: f64,
    /// Test accuracy (networks) — absent for the toy model.
    pub test_acc: Option<f64>,
    /// ‖α − α_mn‖ (toy model only).
    pub dist_mn: Option<f64>,
    /// Final train loss.
    #[serde(default)]
    pub train_loss: Option<f64>,
}

impl BranchResult {
    /// The final value of one of `FINAL_METRICS`.
    pub fn get(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::TestLoss => Some(self.test_loss),
            Metric::TestAcc => self.test_acc,
            Metric::TrainLoss => self.train_loss,
            Metric::DistMn => self.dist_mn,
            _ => None,
        }
    }
}

/// One decay point over the seeds that finished it. The plain fields are the means, so a
/// one-seed sweep reads as it always did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchSummary {
    pub k: u64,
    pub length: u64,
    pub seconds: Option<f64>,
    pub test_loss: f64,
    pub test_acc: Option<f64>,
    pub dist_mn: Option<f64>,
    /// Seeds finished at this decay point.
    pub n: usize,
    /// Each final metric over those seeds, by key ("test_loss", "test_acc", …).
    pub stats: BTreeMap<String, Stat>,
}

impl BranchSummary {
    pub fn stat(&self, m: Metric) -> Option<&Stat> {
        self.stats.get(m.key())
    }
}

/// Pearson r between decay point and final test loss: per seed, and pooled over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PearsonReport {
    /// (seed, r) for each seed with 3 or more finished branches.
    pub per_seed: Vec<(u64, f64)>,
    pub pooled: Option<PooledR>,
}

/// The schedule-free baseline over seeds, beside the decay point with the lowest mean test
/// loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    /// Its length, in the sweep's unit (that of the longest branch).
    pub length: u64,
    /// Seeds whose baseline finished.
    pub n: usize,
    pub seconds: Option<f64>,
    /// Each final metric over those seeds, by key.
    pub stats: BTreeMap<String, Stat>,
    /// One row per finished seed (`k` is its length: it never decays).
    pub per_seed: Vec<BranchResult>,
    /// The decay point with the lowest mean final test loss.
    pub best_k: Option<u64>,
    /// Its length over the best branch's (compute ratio).
    pub compute_vs_best: Option<f64>,
    /// Baseline minus the best branch, paired by seed, per final metric.
    pub vs_best: BTreeMap<String, Effect>,
}

/// What the band around a mean curve spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Mean ± one sample standard deviation.
    #[default]
    Sd,
    /// The lowest to the highest seed.
    MinMax,
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
    pub branches: Vec<BranchSummary>,
    /// One per finished (seed, decay point).
    pub per_seed: Vec<BranchResult>,
    /// Each final metric's paired difference, latest minus earliest decay point.
    pub effect: BTreeMap<String, Effect>,
    /// The pooled r (kept for scripts written before replicates).
    pub pearson_k_test_loss: Option<f64>,
    pub pearson: PearsonReport,
    /// How the intervals are computed.
    pub method: String,
    /// The schedule-free baseline, when the sweep has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineSummary>,
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
