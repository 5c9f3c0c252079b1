//! Predicted against actual: each loss law fitted on a sweep's main path and earliest finished
//! branch, then asked for every other branch (its errors, whether it orders the decay points as
//! measured, the decay point it recommends for a budget); and a single run's fit, with a
//! held-out check, as the schedule editor's what-if reference. Pure functions over the stored
//! rows, so the server, the CLI and the browser compute the same numbers; the answers are wire
//! types (`crate::wire::SweepPrediction`, `ReferenceLaw`, re-exported here). By step:
//!
//! - `paths`: a sweep's finished paths from step 0, and the set the laws are fitted on;
//! - `fit`: one law fitted to paths, and its error on a curve;
//! - `branch`: one held-out decay point predicted beside what it measured;
//! - `score` and `judge`: the law's errors and ranking, and whether to trust it;
//! - `recommend`: the decay point it recommends for the sweep's budget;
//! - `sweep` puts those steps together; `reference` fits a single run.

mod branch;
mod fit;
mod judge;
mod paths;
mod recommend;
mod reference;
mod score;
mod sweep;

#[cfg(test)]
mod tests;

pub use crate::wire::{
    BranchPrediction, LawPrediction, PredictedPoint, Recommendation, ReferenceFit, ReferenceLaw,
    SweepPrediction,
};
pub use branch::PREDICTED_POINTS;
pub use judge::{POOR_REL_ERROR, POOR_SPREAD_FRACTION};
pub use reference::{HOLDOUT_FRACTION, run_reference};
pub use score::kendall_tau;
pub use sweep::{METHOD, sweep_prediction};
