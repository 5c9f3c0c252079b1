//! Pearson r between decay point and final test loss, per seed and pooled over seeds.

use crate::stats::PooledR;
use crate::wire::{BranchResult, PearsonReport};

/// Pearson r between the branches' decay points and their final test losses.
pub fn decay_loss_pearson<'a>(rs: impl IntoIterator<Item = &'a BranchResult>) -> Option<f64> {
    let (ks, losses): (Vec<f64>, Vec<f64>) =
        rs.into_iter().map(|r| (r.k as f64, r.test_loss)).unzip();
    pearson(&ks, &losses)
}

/// Pearson correlation; None when either side has no spread or fewer than 3 points.
pub fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    if n < 3 {
        return None;
    }
    let (mx, my) = (
        xs[..n].iter().sum::<f64>() / n as f64,
        ys[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (xs[i] - mx, ys[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Pearson r of decay point against final test loss, per seed and pooled.
pub fn pearson_report(results: &[BranchResult]) -> PearsonReport {
    let mut seeds: Vec<u64> = results.iter().map(|r| r.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let per_seed: Vec<(u64, f64)> = seeds
        .into_iter()
        .filter_map(|s| {
            Some((
                s,
                decay_loss_pearson(results.iter().filter(|r| r.seed == s))?,
            ))
        })
        .collect();
    let rs: Vec<f64> = per_seed.iter().map(|p| p.1).collect();
    PearsonReport {
        pooled: PooledR::of(&rs),
        per_seed,
    }
}
