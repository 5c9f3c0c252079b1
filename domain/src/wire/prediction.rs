//! Loss-law predictions on the wire: each law's fit on a sweep beside the measured branches,
//! and a run's or sweep's fitted laws as the schedule editor's reference. `crate::prediction`
//! computes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sweeps::SweepSummary;
use crate::law::{LawFit, LawKind};

/// One point of a predicted curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictedPoint {
    pub step: u64,
    /// The step in epochs (networks) or in passes over the toy model's samples.
    pub epoch: f64,
    pub test_loss: f64,
    pub train_loss: Option<f64>,
}

/// One predicted decay point: the law's numbers beside the measured ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchPrediction {
    pub k: u64,
    /// Seeds that finished this decay point (the actual values are their mean).
    pub n: usize,
    pub run_ids: Vec<i64>,
    pub predicted_final_test_loss: f64,
    pub actual_final_test_loss: f64,
    /// (predicted − actual) / actual.
    pub rel_error: f64,
    /// Mean |predicted − actual| / actual over the branch's own evaluations.
    pub curve_rel_error: f64,
    pub predicted_final_train_loss: Option<f64>,
    pub actual_final_train_loss: Option<f64>,
    pub train_rel_error: Option<f64>,
    pub train_curve_rel_error: Option<f64>,
    /// The predicted curve from the decay point to the end.
    pub curve: Vec<PredictedPoint>,
}

/// The decay point a law recommends when the whole budget is fixed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Total length, in the sweep's unit: that of its longest branch.
    pub budget: u64,
    /// Decay here, then follow the sweep's after-decay schedule to the end of the budget.
    pub k: u64,
    pub predicted_final_test_loss: f64,
}

/// One law on one sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LawPrediction {
    pub law: LawKind,
    pub label: String,
    pub formula: String,
    /// The runs whose curves were fitted (main paths and earliest branches).
    pub fitted_on: Vec<i64>,
    /// The decay point whose branches were fitted.
    pub fitted_k: u64,
    /// The test-loss fit's parameters by name (empty when the fit failed).
    pub params: BTreeMap<String, f64>,
    pub train_params: BTreeMap<String, f64>,
    pub fit: Option<LawFit>,
    pub train_fit: Option<LawFit>,
    /// Why the law could not be fitted, when it could not.
    pub error: Option<String>,
    /// Every finished decay point except the fitted one, in order of k.
    pub branches: Vec<BranchPrediction>,
    pub mean_abs_rel_error: Option<f64>,
    pub train_mean_abs_rel_error: Option<f64>,
    pub mean_curve_rel_error: Option<f64>,
    pub train_mean_curve_rel_error: Option<f64>,
    /// Over every finished decay point (the fitted one included): the measured best, the one
    /// the law predicts best, and Kendall's τ between predicted and measured final test loss.
    pub best_measured_k: Option<u64>,
    pub best_predicted_k: Option<u64>,
    pub kendall_tau: Option<f64>,
    pub recommendation: Option<Recommendation>,
    pub poor_fit: bool,
    /// The same judgement for the train loss, whose predicted curves are drawn separately.
    pub train_poor_fit: bool,
    /// One sentence: how well it predicts, and whether to trust the dashed curves.
    pub assessment: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPrediction {
    pub sweep: i64,
    /// What decay points count: "step" or "epoch".
    pub unit: String,
    pub unit_steps: u64,
    pub laws: Vec<LawPrediction>,
    pub method: String,
}

impl SweepPrediction {
    /// The law with the lowest held-out error (the first law when nothing was held out).
    pub fn best(&self) -> Option<&LawPrediction> {
        let usable = self.laws.iter().filter(|l| l.fit.is_some());
        usable.min_by(|a, b| {
            let e = |l: &LawPrediction| l.mean_abs_rel_error.unwrap_or(f64::INFINITY);
            e(a).total_cmp(&e(b))
        })
    }
}

/// One law fitted to one run, for the what-if preview.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceFit {
    pub law: LawKind,
    pub label: String,
    pub formula: String,
    /// Test loss (always), train loss (when recorded).
    pub fit: Option<LawFit>,
    pub train_fit: Option<LawFit>,
    pub error: Option<String>,
    /// |predicted − actual| / actual of the final test loss on data the fit did not see.
    pub validation_rel_error: Option<f64>,
    /// What `validation_rel_error` was measured on.
    pub validation: String,
}

/// A finished run or sweep as the schedule editor's reference: its fitted laws, and the step
/// scale a designed schedule is drawn in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceLaw {
    /// "run 12 · name" or "sweep 3 · name".
    pub label: String,
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    pub fits: Vec<ReferenceFit>,
}

impl ReferenceLaw {
    /// The laws of a sweep's prediction, each validated on the branches it did not see.
    pub fn of_sweep(sweep: &SweepSummary, p: &SweepPrediction) -> Self {
        let budget =
            sweep.spec.branch_at.iter().max().copied().unwrap_or(0) + sweep.spec.branch_length;
        Self {
            label: format!("sweep {} · {}", sweep.id, sweep.name),
            total_steps: budget * p.unit_steps,
            steps_per_epoch: sweep.spec.main.steps_per_epoch(),
            fits: p
                .laws
                .iter()
                .map(|l| ReferenceFit {
                    law: l.law,
                    label: l.label.clone(),
                    formula: l.formula.clone(),
                    fit: l.fit.clone(),
                    train_fit: l.train_fit.clone(),
                    error: l.error.clone(),
                    validation_rel_error: l.mean_abs_rel_error,
                    validation: format!(
                        "mean |error| of the final test loss on the {} branch{} not fitted",
                        l.branches.len(),
                        if l.branches.len() == 1 { "" } else { "es" }
                    ),
                })
                .collect(),
        }
    }

    /// The law with the lowest validation error among those that fitted.
    pub fn best(&self) -> Option<&ReferenceFit> {
        self.fits.iter().filter(|f| f.fit.is_some()).min_by(|a, b| {
            let e = |f: &ReferenceFit| f.validation_rel_error.unwrap_or(f64::INFINITY);
            e(a).total_cmp(&e(b))
        })
    }
}
