//! Curves as charts draw them: smoothed, thinned without hiding spikes, and averaged over seeds
//! with a band.

use std::collections::BTreeMap;

use crate::metric::Metric;
use crate::stats::Stat;
use crate::wire::{RunMetrics, Spread};

/// Exponential moving average with bias correction (as TensorBoard's smoothing and Adam's
/// moments): s_t = β·s_{t−1} + (1−β)·y_t, reported as s_t / (1 − β^t), so early points are not
/// pulled toward zero. β = 0 returns the input. Non-finite points pass through unsmoothed.
pub fn ema_debiased(ys: &[f64], beta: f64) -> Vec<f64> {
    let beta = beta.clamp(0.0, 0.999);
    let (mut s, mut w) = (0.0, 0.0);
    ys.iter()
        .map(|&y| {
            if !y.is_finite() {
                return y;
            }
            s = beta * s + (1.0 - beta) * y;
            w = beta * w + (1.0 - beta);
            s / w
        })
        .collect()
}

/// At most about `max_points` points: each bucket of consecutive points keeps its minimum, its
/// maximum and its last point, in order, so spikes are never hidden by downsampling.
pub fn downsample(xs: &[f64], ys: &[f64], max_points: usize) -> (Vec<f64>, Vec<f64>) {
    let n = xs.len().min(ys.len());
    if n <= max_points.max(3) {
        return (xs[..n].to_vec(), ys[..n].to_vec());
    }
    let buckets = (max_points / 3).max(1);
    let size = n.div_ceil(buckets);
    let (mut ox, mut oy) = (
        Vec::with_capacity(max_points),
        Vec::with_capacity(max_points),
    );
    for start in (0..n).step_by(size) {
        let end = (start + size).min(n);
        let (mut lo, mut hi) = (start, start);
        for i in start..end {
            if ys[i] < ys[lo] {
                lo = i;
            }
            if ys[i] > ys[hi] {
                hi = i;
            }
        }
        let mut keep = vec![lo, hi, end - 1];
        keep.sort_unstable();
        keep.dedup();
        for i in keep {
            ox.push(xs[i]);
            oy.push(ys[i]);
        }
    }
    (ox, oy)
}

/// One point of a mean curve over seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct BandPoint {
    pub step: u64,
    /// The mean of the seeds' x at this step (steps and epochs agree; seconds differ).
    pub x: f64,
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The mean and band of one curve across seeds, each curve given as (step, x, y) rows. Only
/// steps every curve has are kept, so a seed still training shortens the band rather than
/// silently changing what the mean is over.
pub fn mean_band(curves: &[Vec<(u64, f64, f64)>], spread: Spread) -> Vec<BandPoint> {
    let Some((head, rest)) = curves.split_first() else {
        return Vec::new();
    };
    let mut lookups: Vec<BTreeMap<u64, (f64, f64)>> = rest
        .iter()
        .map(|c| c.iter().map(|&(s, x, y)| (s, (x, y))).collect())
        .collect();
    head.iter()
        .filter_map(|&(step, x0, y0)| {
            let mut xs = vec![x0];
            let mut ys = vec![y0];
            for l in &mut lookups {
                let &(x, y) = l.get(&step)?;
                xs.push(x);
                ys.push(y);
            }
            let stat = Stat::of(&ys)?;
            let (lo, hi) = match (spread, stat.sd) {
                (Spread::Sd, Some(sd)) => (stat.mean - sd, stat.mean + sd),
                (Spread::Sd, None) => (stat.mean, stat.mean),
                (Spread::MinMax, _) => (stat.min(), stat.max()),
            };
            Some(BandPoint {
                step,
                x: xs.iter().sum::<f64>() / xs.len() as f64,
                mean: stat.mean,
                lo,
                hi,
            })
        })
        .collect()
}

/// The last row's value of `metric` for a run.
pub fn last_value(m: &RunMetrics, metric: Metric) -> Option<f64> {
    m.points.iter().rev().find_map(|p| p.get(metric))
}
