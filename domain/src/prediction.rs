//! Predicted against actual: each loss law fitted on a sweep's main path and earliest finished
//! branch, then asked for every other branch (its errors, whether it orders the decay points as
//! measured, the decay point it recommends for a budget); and a single run's fit, with a
//! held-out check, as the schedule editor's what-if reference. Pure functions over the stored
//! rows, so the server, the CLI and the browser compute the same numbers.

use std::collections::BTreeMap;

use schedule::Schedule;
use serde::{Deserialize, Serialize};

use crate::law::{self, LawFit, LawKind, LrTrace, Observed};
use crate::metric::Metric;
use crate::wire::{MetricPoint, RunMetrics, RunStatus, RunSummary, SweepSummary};

/// A law "fits badly" when its mean |relative error| on the final test loss of the branches it
/// predicts exceeds this…
pub const POOR_REL_ERROR: f64 = 0.05;
/// …or exceeds this fraction of the relative spread of the measured final losses, which are
/// the differences it is meant to rank.
pub const POOR_SPREAD_FRACTION: f64 = 0.5;
/// Points per predicted curve.
pub const PREDICTED_POINTS: usize = 150;
/// A single run's law is checked by fitting the rows up to this fraction of its steps and
/// predicting the rest.
pub const HOLDOUT_FRACTION: f64 = 0.7;

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

/// One run's rows of one metric, as (step, value).
fn series(points: &[MetricPoint], m: Metric) -> Vec<(u64, f64)> {
    points
        .iter()
        .filter_map(|p| p.get(m).map(|v| (p.step, v)))
        .collect()
}

/// A path of a sweep from step 0: the main path's rows before `from_step`, then the run's own.
fn spliced(main: &[(u64, f64)], own: &[(u64, f64)], from_step: u64) -> Vec<(u64, f64)> {
    main.iter()
        .filter(|p| p.0 < from_step)
        .chain(own.iter().filter(|p| p.0 >= from_step))
        .copied()
        .collect()
}

struct Path {
    run_id: i64,
    k: Option<u64>,
    lr: LrTrace,
    test: Vec<(u64, f64)>,
    train: Vec<(u64, f64)>,
}

fn epoch_of(step: u64, steps_per_epoch: u64) -> f64 {
    step as f64 / steps_per_epoch.max(1) as f64
}

/// Evenly spaced steps from `from` to `to`, both included.
fn steps_between(from: u64, to: u64, n: usize) -> Vec<u64> {
    let n = n.max(2) as u64;
    let span = to.saturating_sub(from);
    let mut out: Vec<u64> = (0..n).map(|i| from + span * i / (n - 1)).collect();
    out.dedup();
    out
}

/// Mean |predicted − actual| / |actual| over `points` (steps with S₁ = 0 skipped).
fn curve_error(fit: &LawFit, lr: &LrTrace, points: &[(u64, f64)]) -> Option<f64> {
    let pts: Vec<&(u64, f64)> = points
        .iter()
        .filter(|p| p.0 > 0 && p.1.abs() > 0.0)
        .collect();
    if pts.is_empty() {
        return None;
    }
    let steps: Vec<u64> = pts.iter().map(|p| p.0).collect();
    let pred = fit.predict(lr, &steps);
    let sum: f64 = pts
        .iter()
        .zip(&pred)
        .map(|(p, q)| ((q - p.1) / p.1).abs())
        .sum();
    Some(sum / pts.len() as f64)
}

fn mean(xs: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

/// Kendall's τ-a between two equally long series (None below 2 points).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += ((a[i] - a[j]) * (b[i] - b[j])).signum();
        }
    }
    Some(s / (n * (n - 1) / 2) as f64)
}

fn argmin_k(pairs: &[(u64, f64)]) -> Option<u64> {
    pairs.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|p| p.0)
}

fn params_of(fit: Option<&LawFit>) -> BTreeMap<String, f64> {
    fit.map(|f| f.params.iter().cloned().collect())
        .unwrap_or_default()
}

fn fit_paths(law: LawKind, paths: &[&Path], train: bool) -> Result<LawFit, law::FitError> {
    let obs: Vec<Observed<'_>> = paths
        .iter()
        .map(|p| Observed {
            lr: &p.lr,
            points: if train { &p.train } else { &p.test },
        })
        .collect();
    law::fit(law, &obs)
}

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

/// Every law fitted on `sweep` and checked against its other branches; `Err` (a sentence) when
/// fewer than two paths of one seed have finished.
pub fn sweep_prediction(
    sweep: &SweepSummary,
    metrics: &[RunMetrics],
) -> Result<SweepPrediction, String> {
    let spec = &sweep.spec;
    let unit_steps = spec.unit_steps();
    let steps_per_epoch = spec.main.steps_per_epoch();
    let rows = |id: i64| {
        metrics
            .iter()
            .find(|m| m.run_id == id)
            .map_or(&[][..], |m| &m.points[..])
    };
    let mut paths: Vec<(u64, Path)> = Vec::new(); // (seed, path)
    for seed in sweep.seeds() {
        let Some(main) = sweep
            .main_of(seed)
            .filter(|m| m.run.status == RunStatus::Completed)
        else {
            continue;
        };
        let main_test = series(rows(main.run.id), Metric::TestLoss);
        let main_train = series(rows(main.run.id), Metric::TrainLoss);
        paths.push((
            seed,
            Path {
                run_id: main.run.id,
                k: None,
                lr: LrTrace::from_schedule(&main.run.spec.schedule, main.run.spec.total_steps()),
                test: main_test.clone(),
                train: main_train.clone(),
            },
        ));
        for r in sweep.runs.iter().filter(|r| {
            r.seed == seed && r.branch_at.is_some() && r.run.status == RunStatus::Completed
        }) {
            let Some(k) = r.branch_at else { continue };
            let from = k * unit_steps;
            let own = rows(r.run.id);
            paths.push((
                seed,
                Path {
                    run_id: r.run.id,
                    k: Some(k),
                    lr: LrTrace::from_schedule(&r.run.spec.schedule, r.run.spec.total_steps()),
                    test: spliced(&main_test, &series(own, Metric::TestLoss), from),
                    train: spliced(&main_train, &series(own, Metric::TrainLoss), from),
                },
            ));
        }
    }
    let fitted_k = paths
        .iter()
        .filter_map(|(_, p)| p.k)
        .min()
        .ok_or_else(|| not_yet(sweep))?;
    // Every seed with its main path and the fitted decay point finished takes part in the fit.
    let fit_seeds: Vec<u64> = paths
        .iter()
        .filter(|(_, p)| p.k == Some(fitted_k))
        .map(|(s, _)| *s)
        .collect();
    let fit_set: Vec<&Path> = paths
        .iter()
        .filter(|(s, p)| fit_seeds.contains(s) && (p.k.is_none() || p.k == Some(fitted_k)))
        .map(|(_, p)| p)
        .collect();
    let fitted_on: Vec<i64> = fit_set.iter().map(|p| p.run_id).collect();
    let mut ks: Vec<u64> = paths.iter().filter_map(|(_, p)| p.k).collect();
    ks.sort_unstable();
    ks.dedup();
    let branches_at = |k: u64| -> Vec<&Path> {
        paths
            .iter()
            .filter(|(_, p)| p.k == Some(k))
            .map(|(_, p)| p)
            .collect()
    };

    let mut laws = Vec::new();
    for law in LawKind::ALL {
        let test_fit = fit_paths(law, &fit_set, false);
        let train_fit = fit_paths(law, &fit_set, true).ok();
        let mut lp = LawPrediction {
            law,
            label: law.label().into(),
            formula: law.formula().into(),
            fitted_on: fitted_on.clone(),
            fitted_k,
            params: params_of(test_fit.as_ref().ok()),
            train_params: params_of(train_fit.as_ref()),
            fit: test_fit.as_ref().ok().cloned(),
            train_fit: train_fit.clone(),
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
        };
        let Ok(fit) = test_fit else {
            lp.assessment = format!(
                "{} could not be fitted: {}",
                law.label(),
                lp.error.clone().unwrap_or_default()
            );
            laws.push(lp);
            continue;
        };
        let (mut measured, mut predicted) = (Vec::new(), Vec::new());
        for &k in &ks {
            let runs = branches_at(k);
            let Some(first) = runs.first() else { continue };
            let lr = &first.lr;
            let from = k * unit_steps;
            let end = first.test.last().map_or(lr.len(), |p| p.0);
            let actual_test = mean(runs.iter().filter_map(|p| p.test.last().map(|q| q.1)));
            let Some(actual_test) = actual_test else {
                continue;
            };
            let pred_test = fit.predict(lr, &[end])[0];
            measured.push((k, actual_test));
            predicted.push((k, pred_test));
            if k == fitted_k {
                continue;
            }
            let own = |p: &Path, train: bool| -> Vec<(u64, f64)> {
                let s = if train { &p.train } else { &p.test };
                s.iter().filter(|q| q.0 > from).copied().collect()
            };
            let curve_err = mean(
                runs.iter()
                    .filter_map(|p| curve_error(&fit, lr, &own(p, false))),
            );
            let actual_train = mean(runs.iter().filter_map(|p| p.train.last().map(|q| q.1)));
            let pred_train = train_fit.as_ref().map(|f| f.predict(lr, &[end])[0]);
            let train_curve_err = train_fit.as_ref().and_then(|f| {
                mean(
                    runs.iter()
                        .filter_map(|p| curve_error(f, lr, &own(p, true))),
                )
            });
            let steps = steps_between(from, end, PREDICTED_POINTS);
            let test_curve = fit.predict(lr, &steps);
            let train_curve = train_fit.as_ref().map(|f| f.predict(lr, &steps));
            lp.branches.push(BranchPrediction {
                k,
                n: runs.len(),
                run_ids: runs.iter().map(|p| p.run_id).collect(),
                predicted_final_test_loss: pred_test,
                actual_final_test_loss: actual_test,
                rel_error: (pred_test - actual_test) / actual_test,
                curve_rel_error: curve_err.unwrap_or(f64::NAN),
                predicted_final_train_loss: pred_train,
                actual_final_train_loss: actual_train,
                train_rel_error: pred_train.zip(actual_train).map(|(p, a)| (p - a) / a),
                train_curve_rel_error: train_curve_err,
                curve: steps
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| PredictedPoint {
                        step: s,
                        epoch: epoch_of(s, steps_per_epoch),
                        test_loss: test_curve[i],
                        train_loss: train_curve.as_ref().map(|c| c[i]),
                    })
                    .collect(),
            });
        }
        let b = &lp.branches;
        lp.mean_abs_rel_error = mean(b.iter().map(|b| b.rel_error.abs()));
        lp.train_mean_abs_rel_error =
            mean(b.iter().filter_map(|b| b.train_rel_error.map(f64::abs)));
        lp.mean_curve_rel_error = mean(
            b.iter()
                .map(|b| b.curve_rel_error)
                .filter(|e| e.is_finite()),
        );
        lp.train_mean_curve_rel_error = mean(b.iter().filter_map(|b| b.train_curve_rel_error));
        lp.best_measured_k = argmin_k(&measured);
        lp.best_predicted_k = argmin_k(&predicted);
        lp.kendall_tau = kendall_tau(
            &measured.iter().map(|p| p.1).collect::<Vec<_>>(),
            &predicted.iter().map(|p| p.1).collect::<Vec<_>>(),
        );
        lp.recommendation = recommend(&fit, sweep);
        let spread = relative_spread(&measured.iter().map(|p| p.1).collect::<Vec<_>>());
        lp.poor_fit = match lp.mean_abs_rel_error {
            None => fit.rel_rmse > POOR_REL_ERROR,
            e => is_poor(e, b.len(), spread),
        };
        let train_spread = relative_spread(
            &ks.iter()
                .filter_map(|&k| {
                    mean(
                        branches_at(k)
                            .iter()
                            .filter_map(|p| p.train.last().map(|q| q.1)),
                    )
                })
                .collect::<Vec<_>>(),
        );
        lp.train_poor_fit =
            is_poor(lp.train_mean_abs_rel_error, b.len(), train_spread) || train_fit.is_none();
        lp.assessment = assessment(&lp, spread, sweep.unit());
        laws.push(lp);
    }
    Ok(SweepPrediction {
        sweep: sweep.id,
        unit: sweep.unit().into(),
        unit_steps,
        laws,
        method: METHOD.into(),
    })
}

/// (max − min) / mean of the measured final losses.
fn relative_spread(vals: &[f64]) -> Option<f64> {
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    mean(vals.iter().copied()).map(|m| (hi - lo) / m.abs().max(f64::MIN_POSITIVE))
}

/// The rule `METHOD` states; no held-out branch means nothing to judge by yet.
fn is_poor(mean_abs_rel_error: Option<f64>, held_out: usize, spread: Option<f64>) -> bool {
    match mean_abs_rel_error {
        None => false,
        Some(e) => {
            !e.is_finite()
                || e > POOR_REL_ERROR
                || (held_out >= 2 && spread.is_some_and(|s| e > POOR_SPREAD_FRACTION * s))
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn assessment(lp: &LawPrediction, spread: Option<f64>, unit: &str) -> String {
    let name = &lp.label;
    let Some(e) = lp.mean_abs_rel_error else {
        return format!(
            "{name} is fitted ({} relative RMS on the fitted curves), but no other branch has \
             finished to check it against.",
            lp.fit.as_ref().map_or("?".into(), |f| pct(f.rel_rmse))
        );
    };
    let n = lp.branches.len();
    let order = match (lp.best_predicted_k, lp.best_measured_k) {
        (Some(p), Some(m)) if p == m => {
            format!("it picks the measured best decay point ({unit} {m})")
        }
        (Some(p), Some(m)) => {
            format!("it picks {unit} {p} as best where {unit} {m} measured best")
        }
        _ => String::new(),
    };
    let spread = spread.map_or(String::new(), |s| {
        format!(", against a {} spread between decay points", pct(s))
    });
    let train = match lp.train_mean_abs_rel_error {
        Some(t) if lp.train_poor_fit => format!(
            " Its train-loss prediction is off by {} on average and is not drawn.",
            pct(t)
        ),
        Some(t) => format!(" Train loss: within {} on average.", pct(t)),
        None => String::new(),
    };
    let main = if lp.poor_fit {
        format!(
            "{name} fits badly: its final test loss is off by {} on average over {n} held-out \
             branch{}{spread}, so its curves are not drawn as predictions; {order}.",
            pct(e),
            if n == 1 { "" } else { "es" }
        )
    } else {
        format!(
            "{name} predicts the final test loss of {n} held-out branch{} within {} on average \
             (curves within {}){spread}; {order}.",
            if n == 1 { "" } else { "es" },
            pct(e),
            lp.mean_curve_rel_error.map_or("?".into(), pct)
        )
    };
    main + &train
}

/// The schedule of a path that decays at `k` (sweep unit) and ends at `budget`.
fn decayed_at(sweep: &SweepSummary, k: u64) -> Schedule {
    Schedule::Sequential {
        parts: vec![sweep.spec.main.schedule.clone(), sweep.spec.after.clone()],
        milestones: vec![k * sweep.spec.unit_steps()],
    }
}

/// The decay point the law predicts best when every path ends at the longest branch's length.
fn recommend(fit: &LawFit, sweep: &SweepSummary) -> Option<Recommendation> {
    let spec = &sweep.spec;
    let budget = spec.branch_at.iter().max()? + spec.branch_length;
    let unit_steps = spec.unit_steps();
    let end = budget * unit_steps;
    let stride = (budget / 100).max(1);
    let mut candidates: Vec<u64> = (0..=budget).step_by(stride as usize).collect();
    candidates.extend(spec.branch_at.iter().copied());
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .filter(|&k| k >= 1)
        .map(|k| {
            let lr = LrTrace::from_schedule(&decayed_at(sweep, k), end);
            (k, fit.predict(&lr, &[end])[0])
        })
        .filter(|p| p.1.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, l)| Recommendation {
            budget,
            k,
            predicted_final_test_loss: l,
        })
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

/// A finished run's laws: fitted on all its rows, and validated by a second fit on the rows up
/// to `HOLDOUT_FRACTION` of its steps that predicts its final test loss.
pub fn run_reference(run: &RunSummary, points: &[MetricPoint]) -> Result<ReferenceLaw, String> {
    if run.status != RunStatus::Completed {
        return Err("the reference must be a finished run".into());
    }
    let total = run.spec.total_steps();
    let lr = LrTrace::from_schedule(&run.spec.schedule, total);
    let test = series(points, Metric::TestLoss);
    let train = series(points, Metric::TrainLoss);
    let Some(&(last_step, last)) = test.last() else {
        return Err("this run has no test loss to fit".into());
    };
    let cut = (total as f64 * HOLDOUT_FRACTION) as u64;
    let head: Vec<(u64, f64)> = test.iter().filter(|p| p.0 <= cut).copied().collect();
    let fits = LawKind::ALL
        .into_iter()
        .map(|law| {
            let one = |pts: &[(u64, f64)]| {
                law::fit(
                    law,
                    &[Observed {
                        lr: &lr,
                        points: pts,
                    }],
                )
            };
            let fit = one(&test);
            let validation_rel_error = one(&head)
                .ok()
                .map(|f| ((f.predict(&lr, &[last_step])[0] - last) / last).abs());
            ReferenceFit {
                law,
                label: law.label().into(),
                formula: law.formula().into(),
                error: fit.as_ref().err().map(ToString::to_string),
                fit: fit.ok(),
                train_fit: (!train.is_empty()).then(|| one(&train).ok()).flatten(),
                validation_rel_error,
                validation: format!(
                    "|error| of the final test loss predicted by a fit on the first {:.0}% of \
                     the run's steps",
                    100.0 * HOLDOUT_FRACTION
                ),
            }
        })
        .collect();
    Ok(ReferenceLaw {
        label: format!("run {} · {}", run.id, run.name),
        total_steps: total,
        steps_per_epoch: run.spec.steps_per_epoch(),
        fits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Lineage, SweepRun};

    /// A small toy sweep: constant 0.1 for 4,000 steps, decays to 0.01 at these points.
    fn spec(ks: &[u64]) -> experiment::SweepSpec {
        let mut s = experiment::SweepSpec::toy_paper();
        if let experiment::Experiment::Toy(t) = &mut s.main.experiment {
            t.steps = 4_000;
            t.eval_every = 50;
        }
        s.main.schedule = Schedule::Constant { lr: 0.1 };
        s.after = Schedule::Constant { lr: 0.01 };
        s.branch_at = ks.to_vec();
        s.branch_length = 1_000;
        s
    }

    fn run(id: i64, spec: experiment::RunSpec, done: bool) -> RunSummary {
        RunSummary {
            id,
            name: spec.name.clone(),
            status: if done {
                RunStatus::Completed
            } else {
                RunStatus::Running
            },
            message: None,
            spec,
            backend: None,
            device: None,
            created_at_ms: 0,
            finished_at_ms: None,
            last_step: None,
            lineage: Lineage::default(),
            executor: None,
            executor_job_id: None,
            executor_node: None,
        }
    }

    /// Rows every 50 steps of a loss that follows `loss(S₁, S₂)` on the run's own schedule,
    /// computed here by hand (not by the law module), from `from` on.
    fn rows(
        spec: &experiment::RunSpec,
        from: u64,
        loss: impl Fn(f64, f64, u64) -> f64,
    ) -> Vec<MetricPoint> {
        let total = spec.total_steps();
        let (mut s1, mut s2, mut m, mut prev) = (0.0, 0.0, 0.0, spec.schedule.lr_at(0));
        let mut out = Vec::new();
        for step in 0..=total {
            if step % 50 == 0 && step >= from {
                let v = loss(s1, s2, step);
                let values = BTreeMap::from([
                    (Metric::TestLoss.key().to_owned(), v),
                    (Metric::TrainLoss.key().to_owned(), 0.8 * v),
                ]);
                out.push(MetricPoint {
                    step,
                    epoch: 0.0,
                    values,
                });
            }
            if step == total {
                break;
            }
            let lr = spec.schedule.lr_at(step);
            m = 0.999 * m + (prev - lr);
            prev = lr;
            s1 += lr;
            s2 += m;
        }
        out
    }

    fn sweep_of(
        ks: &[u64],
        finished: &[Option<u64>],
        loss: impl Fn(f64, f64, u64) -> f64 + Copy,
    ) -> (SweepSummary, Vec<RunMetrics>) {
        let s = spec(ks);
        let mut runs = vec![SweepRun {
            branch_at: None,
            baseline: false,
            seed: s.main.seed,
            run: run(1, s.main_for(s.main.seed), finished.contains(&None)),
        }];
        let mut metrics = vec![RunMetrics {
            run_id: 1,
            points: rows(&s.main, 0, loss),
        }];
        for (i, &k) in ks.iter().enumerate() {
            let id = 2 + i as i64;
            let b = s.branch(k);
            metrics.push(RunMetrics {
                run_id: id,
                points: rows(&b, k, loss),
            });
            runs.push(SweepRun {
                branch_at: Some(k),
                baseline: false,
                seed: s.main.seed,
                run: run(id, b, finished.contains(&Some(k))),
            });
        }
        let sweep = SweepSummary {
            id: 7,
            name: s.name.clone(),
            spec: s,
            created_at_ms: 0,
            runs,
        };
        (sweep, metrics)
    }

    /// Tissue et al.'s form with λ = 0.999, on the raw LR.
    fn lawful(s1: f64, s2: f64, _step: u64) -> f64 {
        0.2 + 0.5 * (s1 + 1.0).powf(-0.6) - 0.0005 * s2
    }

    #[test]
    fn a_loss_that_follows_the_law_is_predicted_and_ordered() {
        let ks = [500, 1_500, 2_500, 4_000];
        let all: Vec<Option<u64>> = std::iter::once(None).chain(ks.map(Some)).collect();
        let (sweep, metrics) = sweep_of(&ks, &all, lawful);
        let p = sweep_prediction(&sweep, &metrics).expect("enough has finished");
        assert_eq!(p.unit, "step");
        assert_eq!(p.laws.len(), LawKind::ALL.len());
        for l in &p.laws {
            assert_eq!(l.fitted_on, vec![1, 2], "main path and earliest branch");
            assert_eq!(l.fitted_k, 500);
            assert_eq!(
                l.branches.iter().map(|b| b.k).collect::<Vec<_>>(),
                vec![1_500, 2_500, 4_000]
            );
            let b = &l.branches[0];
            assert_eq!(b.n, 1);
            assert!(
                (b.rel_error
                    - (b.predicted_final_test_loss - b.actual_final_test_loss)
                        / b.actual_final_test_loss)
                    .abs()
                    < 1e-12
            );
            assert!(b.curve.len() > 100 && b.curve[0].step == 1_500);
            assert_eq!(b.curve.last().map(|c| c.step), Some(2_500));
            assert!(b.curve.iter().all(|c| c.train_loss.is_some()));
        }
        let tissue = p
            .laws
            .iter()
            .find(|l| l.law == LawKind::Tissue)
            .expect("tissue");
        let e = tissue.mean_abs_rel_error.expect("held-out branches");
        assert!(e < 0.01, "a lawful loss is predicted within 1%, got {e}");
        assert!(!tissue.poor_fit, "{}", tissue.assessment);
        assert_eq!(tissue.best_measured_k, Some(4_000));
        assert_eq!(tissue.best_predicted_k, Some(4_000));
        assert_eq!(tissue.kendall_tau, Some(1.0));
        let rec = tissue.recommendation.as_ref().expect("a budget");
        assert_eq!(rec.budget, 5_000);
        assert!(rec.k >= 1 && rec.k <= 5_000);
        assert!(
            tissue.assessment.contains("predicts"),
            "{}",
            tissue.assessment
        );
        let best = p.best().expect("a law fitted");
        assert!(best.mean_abs_rel_error.is_some());
        let r = ReferenceLaw::of_sweep(&sweep, &p);
        assert_eq!(r.total_steps, 5_000);
        assert!(r.best().is_some_and(|f| f.validation_rel_error.is_some()));
    }

    #[test]
    fn a_loss_the_laws_cannot_follow_is_flagged() {
        // A decay that helps less the later it comes (its gain shrinks with the area already
        // travelled, S₂·S₁): outside both laws' families, which add the two areas' effects.
        let ks = [500, 1_500, 2_500, 4_000];
        let all: Vec<Option<u64>> = std::iter::once(None).chain(ks.map(Some)).collect();
        let overfit = |s1: f64, s2: f64, _| lawful(s1, s2, 0) + 2e-6 * s2 * s1;
        let (sweep, metrics) = sweep_of(&ks, &all, overfit);
        let p = sweep_prediction(&sweep, &metrics).expect("enough has finished");
        let flagged: Vec<&LawPrediction> = p.laws.iter().filter(|l| l.poor_fit).collect();
        assert!(
            !flagged.is_empty(),
            "{:#?}",
            p.laws
                .iter()
                .map(|l| (&l.assessment, l.mean_abs_rel_error))
                .collect::<Vec<_>>()
        );
        for l in flagged {
            assert!(l.assessment.contains("fits badly"), "{}", l.assessment);
            assert!(l.assessment.contains('%'));
        }
    }

    #[test]
    fn too_little_finished_is_a_sentence_not_a_fit() {
        let ks = [500, 1_500];
        // Only the main path: no annealing to fit.
        let (sweep, metrics) = sweep_of(&ks, &[None], lawful);
        let e = sweep_prediction(&sweep, &metrics).expect_err("one path");
        assert!(
            e.contains("constant LR") && e.contains("1 of this sweep's 3"),
            "{e}"
        );
        // A branch without its main path finished is not enough either.
        let (sweep, metrics) = sweep_of(&ks, &[Some(500)], lawful);
        assert!(sweep_prediction(&sweep, &metrics).is_err());
        // Main and one branch: fitted, with nothing held out yet.
        let (sweep, metrics) = sweep_of(&ks, &[None, Some(1_500)], lawful);
        let p = sweep_prediction(&sweep, &metrics).expect("two paths");
        for l in &p.laws {
            assert_eq!(l.fitted_k, 1_500);
            assert!(l.branches.is_empty() && l.mean_abs_rel_error.is_none());
            assert!(l.assessment.contains("no other branch"), "{}", l.assessment);
        }
    }

    #[test]
    fn a_run_reference_is_validated_on_its_tail() {
        let mut s = spec(&[1_000]);
        s.branch_length = 2_000;
        let b = s.branch(1_000);
        let points = rows(&b, 0, lawful);
        let r = run_reference(&run(5, b.clone(), true), &points).expect("finished");
        assert_eq!(r.total_steps, 3_000);
        assert!(r.label.starts_with("run 5"));
        let best = r.best().expect("fitted");
        assert!(
            best.validation_rel_error.is_some_and(|e| e < 0.02),
            "{best:?}"
        );
        assert!(best.validation.contains("70%"));
        let unfinished = run_reference(&run(5, b, false), &points).expect_err("running");
        assert!(unfinished.contains("finished"));
    }

    #[test]
    fn kendall_tau_by_hand() {
        assert_eq!(
            kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]),
            Some(1.0)
        );
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        // Pairs: (1,2)+, (1,3)−, (2,3)− → −1/3.
        let t = kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).expect("3 points");
        assert!((t - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(kendall_tau(&[1.0], &[1.0]), None);
    }
}
