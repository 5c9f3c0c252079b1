//! Every law fitted on a sweep's main path and earliest finished branch, then asked for every
//! other branch: the steps in order (paths, fit, each decay point, score, judgement).

use super::branch::{DecayPoint, branch_prediction};
use super::fit::{fit_paths, params_of};
use super::judge::{judge, relative_spread};
use super::paths::{Path, branches_at, fit_set, sweep_paths};
use super::recommend::recommend;
use super::score::{mean, score};
use crate::law::{LawFit, LawKind};
use crate::wire::{LawPrediction, RunMetrics, RunStatus, SweepPrediction, SweepSummary};

/// How the prediction is made and judged, as the page and the API state it.
pub const METHOD: &str = "Each law is fitted (bounded, robust nonlinear least squares; see its \
formula) jointly to the main path and the earliest finished branch of every seed that has both. \
The main path alone has a constant LR, so the annealing term cannot be fitted from it: the \
earliest branch is what identifies it. Train loss and test loss are fitted separately. Every \
other finished branch is then predicted from its schedule alone. rel_error = (predicted − \
actual) / actual for the final loss, actual being the mean over the seeds that finished the \
branch; the curve error is the mean |predicted − actual| / actual over the branch's own \
evaluations after its decay point, averaged over seeds. A law is flagged as fitting badly when \
its mean |rel_error| exceeds 5%, or exceeds half the relative spread of the measured final \
losses that it is meant to rank.";

/// Why a sweep cannot be predicted yet, in the words the 409 answer uses.
fn not_yet(sweep: &SweepSummary) -> String {
    let done = sweep
        .runs
        .iter()
        .filter(|r| r.run.status == RunStatus::Completed)
        .count();
    format!(
        "a prediction needs two finished paths of one seed, its main path and a branch: the main \
         path alone has a constant LR, so the annealing term of a law cannot be fitted from it \
         ({done} of this sweep's {} runs have finished)",
        sweep.runs.len()
    )
}

/// What every law of one sweep is fitted on and checked against.
struct Fitting<'a> {
    sweep: &'a SweepSummary,
    /// The decay point whose branches were fitted.
    fitted_k: u64,
    /// Main paths and their branches at `fitted_k`.
    fit_set: Vec<&'a Path>,
    /// Every finished decay point, in order of k (the fitted one included).
    points: Vec<DecayPoint<'a>>,
    /// The relative spread of the final train losses over decay points.
    train_spread: Option<f64>,
}

/// Every law fitted on `sweep` and checked against its other branches; `Err` (a sentence) when
/// fewer than two paths of one seed have finished.
pub fn sweep_prediction(
    sweep: &SweepSummary,
    metrics: &[RunMetrics],
) -> Result<SweepPrediction, String> {
    let unit_steps = sweep.spec.unit_steps();
    let paths = sweep_paths(sweep, metrics);
    let fitted_k = paths
        .iter()
        .filter_map(|(_, p)| p.k)
        .min()
        .ok_or_else(|| not_yet(sweep))?;
    let mut ks: Vec<u64> = paths.iter().filter_map(|(_, p)| p.k).collect();
    ks.sort_unstable();
    ks.dedup();
    let train_finals: Vec<f64> = ks
        .iter()
        .filter_map(|&k| {
            mean(
                branches_at(&paths, k)
                    .iter()
                    .filter_map(|p| p.train.last().map(|q| q.1)),
            )
        })
        .collect();
    let fitting = Fitting {
        sweep,
        fitted_k,
        fit_set: fit_set(&paths, fitted_k),
        points: DecayPoint::all(&paths, &ks, unit_steps),
        train_spread: relative_spread(&train_finals),
    };
    Ok(SweepPrediction {
        sweep: sweep.id,
        unit: sweep.unit().into(),
        unit_steps,
        laws: LawKind::ALL
            .into_iter()
            .map(|law| law_prediction(law, &fitting))
            .collect(),
        method: METHOD.into(),
    })
}

/// One law: fitted, then asked for every decay point, scored and judged.
fn law_prediction(law: LawKind, f: &Fitting<'_>) -> LawPrediction {
    let test_fit = fit_paths(law, &f.fit_set, false);
    let train_fit = fit_paths(law, &f.fit_set, true).ok();
    let mut lp = unjudged(law, f, &test_fit, train_fit.as_ref());
    let Ok(fit) = test_fit else {
        lp.assessment = format!(
            "{} could not be fitted: {}",
            law.label(),
            lp.error.clone().unwrap_or_default()
        );
        return lp;
    };
    let steps_per_epoch = f.sweep.spec.main.steps_per_epoch();
    let (mut measured, mut predicted) = (Vec::new(), Vec::new());
    for point in &f.points {
        let pred_test = fit.predict(point.lr(), &[point.end])[0];
        measured.push((point.k, point.actual_test));
        predicted.push((point.k, pred_test));
        if point.k != f.fitted_k {
            lp.branches.push(branch_prediction(
                point,
                &fit,
                train_fit.as_ref(),
                pred_test,
                steps_per_epoch,
            ));
        }
    }
    score(&mut lp, &measured, &predicted);
    lp.recommendation = recommend(&fit, f.sweep);
    judge(
        &mut lp,
        &fit,
        train_fit.is_some(),
        &measured,
        f.train_spread,
        f.sweep.unit(),
    );
    lp
}

/// A law's fits, before it is asked for anything: judged a poor fit until it is scored.
fn unjudged(
    law: LawKind,
    f: &Fitting<'_>,
    test_fit: &Result<LawFit, crate::law::FitError>,
    train_fit: Option<&LawFit>,
) -> LawPrediction {
    LawPrediction {
        law,
        label: law.label().into(),
        formula: law.formula().into(),
        fitted_on: f.fit_set.iter().map(|p| p.run_id).collect(),
        fitted_k: f.fitted_k,
        params: params_of(test_fit.as_ref().ok()),
        train_params: params_of(train_fit),
        fit: test_fit.as_ref().ok().cloned(),
        train_fit: train_fit.cloned(),
        error: test_fit.as_ref().err().map(ToString::to_string),
        branches: Vec::new(),
        mean_abs_rel_error: None,
        train_mean_abs_rel_error: None,
        mean_curve_rel_error: None,
        train_mean_curve_rel_error: None,
        best_measured_k: None,
        best_predicted_k: None,
        kendall_tau: None,
        recommendation: None,
        poor_fit: true,
        train_poor_fit: true,
        assessment: String::new(),
    }
}
