//! Numbers a sweep page derives from its runs: final metrics against the decay point (per seed
//! and over seeds), paired effects, Pearson r, compute ratios, and the plain-language verdict
//! with its uncertainty. Pure functions over the wire types they fill (`crate::wire::SweepReport`
//! and its parts, re-exported here under their old paths), by concern:
//!
//! - `series`: smoothing, downsampling and mean bands of curves;
//! - `correlation`: Pearson r of decay point against final test loss;
//! - `aggregate`: a sweep's runs reduced to its report, per seed, per decay point and baseline;
//! - `verdict` (with `format`): the sentences a lead reads.

mod aggregate;
mod correlation;
mod format;
mod series;
mod verdict;

#[cfg(test)]
mod tests;

pub use crate::wire::{
    BaselineSummary, BranchResult, BranchSummary, FINAL_METRICS, PearsonReport, Spread,
};
pub use aggregate::{
    baseline_results, branch_results, branch_summaries, effects, report_of, sweep_report,
};
pub use correlation::{decay_loss_pearson, pearson, pearson_report};
pub use series::{BandPoint, downsample, ema_debiased, last_value, mean_band};
pub use verdict::{conclusion, pearson_line, run_conclusion};
