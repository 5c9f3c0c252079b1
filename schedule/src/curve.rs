//! The preview curve: `(step, lr)` points over a run, downsampled without hiding spikes.
//!
//! Plain striding would drop a warm restart's peak or a one-step dip whenever it falls between
//! two kept steps, so each bucket of steps keeps its minimum, its maximum and its last value.

use crate::Schedule;

/// Evaluations beyond which a bucket is sampled rather than scanned, so that a preview of a
/// billion-step run stays interactive in the browser (each bucket is still sampled densely).
const EXACT_BUDGET: u64 = 1 << 21;

pub(crate) fn curve(s: &Schedule, total_steps: u64, max_points: usize) -> Vec<(u64, f64)> {
    let point = |t: u64| (t, s.lr_at(t));
    // Every bucket gives up to three points and step 0 one more; fewer than four cannot hold
    // both ends and a shape.
    let max_points = max_points.max(4) as u64;
    let n = u128::from(total_steps) + 1;
    if n <= u128::from(max_points) {
        return (0..=total_steps).map(point).collect();
    }
    let buckets = (max_points - 1) / 3;
    let stride = (n / u128::from(EXACT_BUDGET)).max(1);
    let mut out = vec![point(0)];
    for b in 0..u128::from(buckets) {
        // Both ends < n ≤ 2^64, so the casts are exact.
        let lo = (b * n / u128::from(buckets)) as u64;
        let hi = ((b + 1) * n / u128::from(buckets) - 1) as u64;
        let mut min = point(lo);
        let mut max = min;
        let mut t = u128::from(lo);
        while t <= u128::from(hi) {
            let p = point(t as u64);
            // Ties keep the earliest, so a flat stretch yields one point, not three.
            if p.1 < min.1 {
                min = p;
            }
            if p.1 > max.1 {
                max = p;
            }
            t += stride;
        }
        let last = point(hi);
        let mut keep = [min, max, last];
        keep.sort_by_key(|p| p.0);
        for p in keep {
            if out.last().is_none_or(|q| q.0 < p.0) {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::Schedule as S;

    #[test]
    fn short_runs_get_every_step() {
        let s = S::Exponential {
            lr: 1.0,
            gamma: 0.5,
        };
        let pts = s.curve(9, 100);
        assert_eq!(pts.len(), 10);
        assert_eq!(pts[3], (3, 0.125));
    }

    #[test]
    fn downsampled_curve_is_bounded_ordered_and_has_both_ends() {
        let s = S::Cosine {
            lr: 1.0,
            t_max: 10_000,
            eta_min: 0.0,
        };
        for max_points in [4, 5, 50, 301, 1000] {
            let pts = s.curve(10_000, max_points);
            assert!(pts.len() <= max_points, "{} > {max_points}", pts.len());
            assert_eq!(pts[0], (0, 1.0));
            assert_eq!(pts.last().map(|p| p.0), Some(10_000));
            assert!(pts.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn downsampling_keeps_every_restart_peak_and_trough() {
        // 5000 steps in 100 points: buckets of about 150 steps. Restarts at 0, 7, 21, 49, 105,
        // 217, 441, 889, 1785, 3577; from 217 on, each has a bucket to itself.
        let s = S::CosineWarmRestarts {
            lr: 1.0,
            t_0: 7,
            t_mult: 2.0,
            eta_min: 0.01,
        };
        let pts = s.curve(5000, 100);
        assert!(pts.len() <= 100);
        for restart in [217, 441, 889, 1785, 3577] {
            assert!(
                pts.contains(&(restart, 1.0)),
                "peak at {restart} lost: {pts:?}"
            );
            // The step before a restart is its cycle's minimum.
            assert!(
                pts.contains(&(restart - 1, s.lr_at(restart - 1))),
                "trough before {restart} lost"
            );
        }
        let periodic = S::CosineWarmRestarts {
            lr: 1.0,
            t_0: 290,
            t_mult: 1.0,
            eta_min: 0.0,
        };
        let pts = periodic.curve(5000, 100);
        for restart in (0..=5000).step_by(290) {
            assert!(
                pts.contains(&(restart, 1.0)),
                "peak at {restart} lost: {pts:?}"
            );
        }
    }

    #[test]
    fn downsampling_keeps_a_one_step_spike() {
        let spike = S::Sequential {
            parts: vec![
                S::Constant { lr: 0.1 },
                S::Constant { lr: 5.0 },
                S::Constant { lr: 0.1 },
            ],
            milestones: vec![4321, 4322],
        };
        let pts = spike.curve(100_000, 60);
        assert!(pts.contains(&(4321, 5.0)), "{pts:?}");
    }

    #[test]
    fn huge_runs_stay_cheap_and_never_overflow() {
        let s = S::Cosine {
            lr: 1.0,
            t_max: 1 << 40,
            eta_min: 0.0,
        };
        let pts = s.curve(u64::MAX, 200);
        assert!(pts.len() <= 200);
        assert_eq!(pts.last().map(|p| p.0), Some(u64::MAX));
    }
}
