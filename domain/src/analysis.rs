//! Numbers a sweep page derives from its runs: final metrics against the decay point, Pearson r,
//! compute ratios, and the plain-language conclusion. Pure functions, tested here.

use crate::metric::Metric;
use crate::wire::{MetricPoint, RunMetrics, RunStatus, SweepSummary};

/// One finished branch of a sweep.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BranchResult {
    /// Decay point, in the sweep's unit (steps for the toy model, epochs for networks).
    pub k: u64,
    /// Training length in the same unit (k + branch length).
    pub length: u64,
    /// Wall-clock seconds of training, when known.
    pub seconds: Option<f64>,
    pub test_loss: f64,
    /// Test accuracy (networks) — absent for the toy model.
    pub test_acc: Option<f64>,
    /// ‖α − α_mn‖ (toy model only).
    pub dist_mn: Option<f64>,
}

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

/// Pearson r between the branches' decay points and their final test losses.
pub fn decay_loss_pearson<'a>(rs: impl IntoIterator<Item = &'a BranchResult>) -> Option<f64> {
    let (ks, losses): (Vec<f64>, Vec<f64>) =
        rs.into_iter().map(|r| (r.k as f64, r.test_loss)).unzip();
    pearson(&ks, &losses)
}

/// The line a sweep page shows about that correlation.
pub fn pearson_line(r: Option<f64>, unit: &str) -> String {
    match r {
        Some(r) => format!("Pearson r (decay {unit} vs final test loss) = {r:.3}"),
        None => "Pearson r needs at least 3 finished branches.".into(),
    }
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

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// A paragraph a lead can read: what decaying later bought, at what compute.
pub fn conclusion(results: &[BranchResult], unit: &str) -> String {
    let mut rs: Vec<&BranchResult> = results.iter().filter(|r| r.test_loss.is_finite()).collect();
    rs.sort_by_key(|r| r.k);
    let (Some(first), Some(last)) = (rs.first(), rs.last()) else {
        return "No branch has finished yet.".into();
    };
    if rs.len() < 2 {
        return format!(
            "Only the branch decayed at {unit} {} has finished so far.",
            first.k
        );
    }
    let best = rs
        .iter()
        .min_by(|a, b| a.test_loss.total_cmp(&b.test_loss))
        .copied()
        .unwrap_or(last);
    let compute = last.length as f64 / first.length.max(1) as f64;
    let mut s = match (first.test_acc, last.test_acc) {
        (Some(a), Some(b)) => format!(
            "Decaying at {unit} {} instead of {} changed test accuracy from {:.1}% to {:.1}% (test loss {} → {}) at {:.2}× the compute.",
            last.k,
            first.k,
            100.0 * a,
            100.0 * b,
            fmt(first.test_loss),
            fmt(last.test_loss),
            compute
        ),
        _ => format!(
            "Decaying at {unit} {} instead of {} changed the final test loss from {} to {} at {:.2}× the compute.",
            last.k,
            first.k,
            fmt(first.test_loss),
            fmt(last.test_loss),
            compute
        ),
    };
    if let (Some(a), Some(b)) = (first.dist_mn, last.dist_mn) {
        s.push_str(&format!(
            " The distance to the minimum-norm solution went from {} to {}.",
            fmt(a),
            fmt(b)
        ));
    }
    if let Some(r) = decay_loss_pearson(rs.iter().copied()) {
        let trend = if r < -0.5 {
            "later decay gave lower test loss"
        } else if r > 0.5 {
            "later decay gave higher test loss"
        } else {
            "the decay point made no consistent difference"
        };
        s.push_str(&format!(" Across {} branches, {trend} (Pearson r = {r:.2} between decay {unit} and final test loss).", rs.len()));
    }
    if best.k != last.k {
        s.push_str(&format!(
            " The lowest test loss came from decaying at {unit} {}.",
            best.k
        ));
    }
    s
}

/// A paragraph about one run: where it ended, its best point, and the schedule that got it there.
pub fn run_conclusion(spec: &spec::RunSpec, points: &[MetricPoint]) -> String {
    let last = |m: Metric| points.iter().rev().find_map(|p| p.get(m));
    let Some(end) = points.last() else {
        return "No evaluation has finished yet.".into();
    };
    let schedule = spec.schedule.describe();
    match &spec.experiment {
        spec::Experiment::Net(_) => {
            let secs: f64 = points
                .iter()
                .filter_map(|p| p.get(Metric::EpochSeconds))
                .sum();
            let best = points
                .iter()
                .filter_map(|p| p.get(Metric::TestAcc).map(|a| (p.epoch, a)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let mut s = format!(
                "After {} epochs ({secs:.0} s of training) with {schedule}, test accuracy is {} (test loss {}, train loss {}).",
                fmt(end.epoch),
                last(Metric::TestAcc)
                    .map_or("not measured".into(), |a| format!("{:.1}%", 100.0 * a)),
                last(Metric::TestLoss).map_or("—".into(), fmt),
                last(Metric::TrainLoss).map_or("—".into(), fmt),
            );
            if let Some((epoch, acc)) = best {
                s.push_str(&format!(
                    " The best test accuracy, {:.1}%, came at epoch {}.",
                    100.0 * acc,
                    fmt(epoch)
                ));
            }
            s
        }
        spec::Experiment::Toy(_) => {
            let mut s = format!(
                "After {} steps with {schedule}, the test loss is {} and the train loss {}.",
                end.step,
                last(Metric::TestLoss).map_or("—".into(), fmt),
                last(Metric::TrainLoss).map_or("—".into(), fmt),
            );
            let first_dist = points.iter().find_map(|p| p.get(Metric::DistMn));
            if let (Some(a), Some(b)) = (first_dist, last(Metric::DistMn)) {
                s.push_str(&format!(
                    " The distance to the minimum-norm solution went from {} to {}.",
                    fmt(a),
                    fmt(b)
                ));
            }
            s
        }
    }
}

/// The last row's value of `metric` for a run.
pub fn last_value(m: &RunMetrics, metric: Metric) -> Option<f64> {
    m.points.iter().rev().find_map(|p| p.get(metric))
}

/// Results of a sweep's branches that completed, in the sweep's order.
pub fn branch_results(sweep: &SweepSummary, metrics: &[RunMetrics]) -> Vec<BranchResult> {
    sweep
        .runs
        .iter()
        .filter(|r| r.run.status == RunStatus::Completed)
        .filter_map(|r| {
            let k = r.branch_at?;
            let m = metrics.iter().find(|m| m.run_id == r.run.id)?;
            Some(BranchResult {
                k,
                length: k + sweep.spec.branch_length,
                seconds: m
                    .points
                    .iter()
                    .map(|p| p.get(Metric::EpochSeconds).unwrap_or(0.0))
                    .sum::<f64>()
                    .into(),
                test_loss: last_value(m, Metric::TestLoss)?,
                test_acc: last_value(m, Metric::TestAcc),
                dist_mn: last_value(m, Metric::DistMn),
            })
        })
        .collect()
}

/// A sweep's whole verdict, as the summary API and the share export give it.
pub fn sweep_report(sweep: &SweepSummary, metrics: &[RunMetrics]) -> crate::wire::SweepReport {
    let branches = branch_results(sweep, metrics);
    let unit = sweep.unit();
    crate::wire::SweepReport {
        sweep: sweep.id,
        unit: unit.to_owned(),
        pearson_k_test_loss: decay_loss_pearson(&branches),
        conclusion: conclusion(&branches, unit),
        branches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(k: u64, loss: f64) -> BranchResult {
        BranchResult {
            k,
            length: k + 100,
            seconds: None,
            test_loss: loss,
            test_acc: None,
            dist_mn: Some(loss * 10.0),
        }
    }

    #[test]
    fn ema_is_debiased_and_identity_at_zero() {
        assert_eq!(ema_debiased(&[1.0, 2.0, 3.0], 0.0), vec![1.0, 2.0, 3.0]);
        // A constant series stays constant from the first point: no pull toward 0.
        assert!(
            ema_debiased(&[5.0; 10], 0.9)
                .iter()
                .all(|v| (v - 5.0).abs() < 1e-12)
        );
        // By hand, β = 0.5: s = 0.5, 1.25; w = 0.5, 0.75 → 1, 1.6667.
        let e = ema_debiased(&[1.0, 2.0], 0.5);
        assert!((e[0] - 1.0).abs() < 1e-12 && (e[1] - 1.25 / 0.75).abs() < 1e-12);
    }

    #[test]
    fn downsampling_keeps_spikes_and_the_last_point() {
        let xs: Vec<f64> = (0..10_000).map(f64::from).collect();
        let mut ys = vec![1.0; 10_000];
        ys[4_321] = 100.0;
        ys[7_000] = -5.0;
        let (dx, dy) = downsample(&xs, &ys, 300);
        assert!(dx.len() <= 300, "{}", dx.len());
        assert!(dy.contains(&100.0) && dy.contains(&-5.0));
        assert_eq!(dx.last(), Some(&9_999.0));
        assert!(dx.windows(2).all(|w| w[0] < w[1]), "x stays ordered");
        assert_eq!(downsample(&xs[..5], &ys[..5], 300).0.len(), 5);
    }

    #[test]
    fn pearson_of_known_lines() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&xs, &[2.0, 4.0, 6.0, 8.0]).unwrap_or(0.0) - 1.0).abs() < 1e-12);
        assert!((pearson(&xs, &[8.0, 6.0, 4.0, 2.0]).unwrap_or(0.0) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&xs, &[1.0, 1.0, 1.0, 1.0]), None);
        assert_eq!(pearson(&xs[..2], &[1.0, 2.0]), None);
    }

    #[test]
    fn conclusion_reports_trend_compute_and_distance() {
        let text = conclusion(
            &[
                b(1000, 0.62),
                b(5000, 0.39),
                b(20000, 0.30),
                b(40000, 0.296),
            ],
            "step",
        );
        assert!(
            text.contains("Decaying at step 40000 instead of 1000"),
            "{text}"
        );
        assert!(text.contains("from 0.6200 to 0.2960"), "{text}");
        assert!(text.contains("36.45× the compute"), "{text}"); // 40100 / 1100 steps
        assert!(text.contains("later decay gave lower test loss"), "{text}");
        assert!(
            text.contains("minimum-norm solution went from 6.200 to 2.960"),
            "{text}"
        );
    }

    #[test]
    fn conclusion_with_accuracy_and_too_few_branches() {
        let mut r = vec![b(30, 0.5), b(80, 0.4)];
        r[0].test_acc = Some(0.81);
        r[1].test_acc = Some(0.845);
        let text = conclusion(&r, "epoch");
        assert!(text.contains("from 81.0% to 84.5%"), "{text}");
        assert!(conclusion(&[], "epoch").contains("No branch"));
        assert!(conclusion(&r[..1], "epoch").contains("Only the branch"));
    }
}
