//! One decay point predicted: its finished branches over seeds, what they measured, and the
//! law's numbers and curve beside them.

use super::fit::curve_error;
use super::paths::{Path, branches_at};
use super::score::mean;
use crate::law::{LawFit, LrTrace};
use crate::wire::{BranchPrediction, PredictedPoint};

/// Points per predicted curve.
pub const PREDICTED_POINTS: usize = 150;

/// A decay point with at least one finished branch that has a test loss.
pub(super) struct DecayPoint<'a> {
    pub k: u64,
    /// Its finished branches, one per seed.
    pub runs: Vec<&'a Path>,
    /// The step the branches' own rows start after (the decay point in steps).
    pub from: u64,
    /// The step of the first branch's last test loss.
    pub end: u64,
    /// The final test loss, mean over the seeds.
    pub actual_test: f64,
}

impl<'a> DecayPoint<'a> {
    /// Every finished decay point of `paths`, in order of k.
    pub fn all(paths: &'a [(u64, Path)], ks: &[u64], unit_steps: u64) -> Vec<Self> {
        ks.iter()
            .filter_map(|&k| {
                let runs = branches_at(paths, k);
                let first = runs.first()?;
                let end = first.test.last().map_or(first.lr.len(), |p| p.0);
                let actual_test = mean(runs.iter().filter_map(|p| p.test.last().map(|q| q.1)))?;
                Some(Self {
                    k,
                    from: k * unit_steps,
                    end,
                    actual_test,
                    runs,
                })
            })
            .collect()
    }

    /// The LR trace the branches share (they follow one schedule).
    pub fn lr(&self) -> &'a LrTrace {
        &self.runs[0].lr
    }
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

/// The law's prediction of one decay point it was not fitted on, `pred_test` being its final
/// test loss there.
pub(super) fn branch_prediction(
    point: &DecayPoint<'_>,
    fit: &LawFit,
    train_fit: Option<&LawFit>,
    pred_test: f64,
    steps_per_epoch: u64,
) -> BranchPrediction {
    let (runs, lr, from, end) = (&point.runs, point.lr(), point.from, point.end);
    let actual_test = point.actual_test;
    let own = |p: &Path, train: bool| -> Vec<(u64, f64)> {
        let s = if train { &p.train } else { &p.test };
        s.iter().filter(|q| q.0 > from).copied().collect()
    };
    let curve_err = mean(
        runs.iter()
            .filter_map(|p| curve_error(fit, lr, &own(p, false))),
    );
    let actual_train = mean(runs.iter().filter_map(|p| p.train.last().map(|q| q.1)));
    let pred_train = train_fit.map(|f| f.predict(lr, &[end])[0]);
    let train_curve_err = train_fit.and_then(|f| {
        mean(
            runs.iter()
                .filter_map(|p| curve_error(f, lr, &own(p, true))),
        )
    });
    let steps = steps_between(from, end, PREDICTED_POINTS);
    let test_curve = fit.predict(lr, &steps);
    let train_curve = train_fit.map(|f| f.predict(lr, &steps));
    BranchPrediction {
        k: point.k,
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
    }
}
