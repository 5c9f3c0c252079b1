//! The fit step: one law fitted jointly to a set of paths, and its error on a curve it is
//! asked to predict.

use std::collections::BTreeMap;

use super::paths::Path;
use crate::law::{self, LawFit, LawKind, LrTrace, Observed};

pub(super) fn fit_paths(
    law: LawKind,
    paths: &[&Path],
    train: bool,
) -> Result<LawFit, law::FitError> {
    let obs: Vec<Observed<'_>> = paths
        .iter()
        .map(|p| Observed {
            lr: &p.lr,
            points: if train { &p.train } else { &p.test },
        })
        .collect();
    law::fit(law, &obs)
}

pub(super) fn params_of(fit: Option<&LawFit>) -> BTreeMap<String, f64> {
    fit.map(|f| f.params.iter().cloned().collect())
        .unwrap_or_default()
}

/// Mean |predicted − actual| / |actual| over `points` (steps with S₁ = 0 skipped).
pub(super) fn curve_error(fit: &LawFit, lr: &LrTrace, points: &[(u64, f64)]) -> Option<f64> {
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
