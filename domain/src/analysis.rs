//! Numbers a sweep page derives from its runs: final metrics against the decay point (per seed
//! and over seeds), paired effects, Pearson r, compute ratios, and the plain-language verdict
//! with its uncertainty. Pure functions, tested here.

use std::collections::BTreeMap;

use crate::metric::Metric;
use crate::stats::{Effect, PooledR, Stat};
use crate::wire::{MetricPoint, RunMetrics, RunStatus, SweepSummary};

/// The final metrics a sweep summarises over seeds, in the order a verdict names them.
pub const FINAL_METRICS: [Metric; 4] = [
    Metric::TestLoss,
    Metric::TestAcc,
    Metric::TrainLoss,
    Metric::DistMn,
];

/// One finished branch of one seed of a sweep.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BranchResult {
    /// The replicate's training seed.
    #[serde(default)]
    pub seed: u64,
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
    /// Final train loss.
    #[serde(default)]
    pub train_loss: Option<f64>,
}

impl BranchResult {
    /// The final value of one of `FINAL_METRICS`.
    pub fn get(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::TestLoss => Some(self.test_loss),
            Metric::TestAcc => self.test_acc,
            Metric::TrainLoss => self.train_loss,
            Metric::DistMn => self.dist_mn,
            _ => None,
        }
    }
}

/// One decay point over the seeds that finished it. The plain fields are the means, so a
/// one-seed sweep reads as it always did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BranchSummary {
    pub k: u64,
    pub length: u64,
    pub seconds: Option<f64>,
    pub test_loss: f64,
    pub test_acc: Option<f64>,
    pub dist_mn: Option<f64>,
    /// Seeds finished at this decay point.
    pub n: usize,
    /// Each final metric over those seeds, by key ("test_loss", "test_acc", …).
    pub stats: BTreeMap<String, Stat>,
}

impl BranchSummary {
    pub fn stat(&self, m: Metric) -> Option<&Stat> {
        self.stats.get(m.key())
    }
}

/// Pearson r between decay point and final test loss: per seed, and pooled over seeds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PearsonReport {
    /// (seed, r) for each seed with 3 or more finished branches.
    pub per_seed: Vec<(u64, f64)>,
    pub pooled: Option<PooledR>,
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

/// What the band around a mean curve spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Mean ± one sample standard deviation.
    #[default]
    Sd,
    /// The lowest to the highest seed.
    MinMax,
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

/// Pearson r between the branches' decay points and their final test losses.
pub fn decay_loss_pearson<'a>(rs: impl IntoIterator<Item = &'a BranchResult>) -> Option<f64> {
    let (ks, losses): (Vec<f64>, Vec<f64>) =
        rs.into_iter().map(|r| (r.k as f64, r.test_loss)).unzip();
    pearson(&ks, &losses)
}

/// The line a sweep page shows about that correlation.
pub fn pearson_line(p: &PearsonReport, unit: &str) -> String {
    let head = format!("Pearson r (decay {unit} vs final test loss)");
    match (&p.pooled, p.per_seed.as_slice()) {
        (None, _) => "Pearson r needs at least 3 finished branches.".into(),
        (Some(pooled), [_]) | (Some(pooled), []) => format!("{head} = {:.3}", pooled.r),
        (Some(pooled), per) => {
            let each = per
                .iter()
                .map(|(s, r)| format!("seed {s}: {r:.2}"))
                .collect::<Vec<_>>()
                .join(", ");
            let ci = pooled.ci95.map_or(String::new(), |[lo, hi]| {
                format!(", 95% CI {lo:.2} to {hi:.2}")
            });
            format!(
                "{head}, pooled over {} seeds = {:.3}{ci} (Fisher z averaged over seeds, t-interval); {each}",
                pooled.n, pooled.r
            )
        }
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

/// At least 3 significant digits (4 decimals below 1), so small losses and their
/// differences never print as 0.0000.
fn fmt(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else if a == 0.0 || a >= 0.01 {
        format!("{v:.4}")
    } else if a >= 1e-4 {
        let decimals = (2.0 - a.log10().floor()) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.2e}")
    }
}

/// A signed number in the metric's own unit: accuracy in percentage points.
fn fmt_signed(m: Metric, v: f64) -> String {
    let sign = if v > 0.0 {
        "+"
    } else if v < 0.0 {
        "−"
    } else {
        ""
    };
    match m {
        Metric::TestAcc => format!("{sign}{:.2} points", 100.0 * v.abs()),
        _ => format!("{sign}{}", fmt(v.abs())),
    }
}

/// A metric's value as the verdict writes it.
fn fmt_value(m: Metric, v: f64) -> String {
    match m {
        Metric::TestAcc => format!("{:.1}%", 100.0 * v),
        _ => fmt(v),
    }
}

fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::TestLoss => "test loss",
        Metric::TestAcc => "test accuracy",
        Metric::TrainLoss => "train loss",
        Metric::DistMn => "the distance to the minimum-norm solution",
        _ => m.key(),
    }
}

/// One clause about a paired effect: "lowered test loss by 0.0010 (95% CI …)", or that it did
/// not change beyond seed noise.
fn effect_clause(m: Metric, e: &Effect) -> String {
    let ci = |[lo, hi]: [f64; 2]| {
        format!(
            "95% CI {} to {}, {} seeds",
            fmt_signed(m, lo),
            fmt_signed(m, hi),
            e.n
        )
    };
    let Some(interval) = e.ci95 else {
        return format!(
            "{} changed by {} (one seed: no interval)",
            metric_name(m),
            fmt_signed(m, e.mean)
        );
    };
    if !e.distinguishable {
        return format!(
            "{} did not change beyond seed noise ({}, {})",
            metric_name(m),
            fmt_signed(m, e.mean),
            ci(interval)
        );
    }
    let verb = match (m, e.mean < 0.0) {
        (Metric::TestAcc, false) => "raised",
        (Metric::TestAcc, true) => "lowered",
        (_, true) => "lowered",
        (_, false) => "raised",
    };
    let by = match m {
        Metric::TestAcc => format!("{:.2} points", 100.0 * e.mean.abs()),
        _ => fmt(e.mean.abs()),
    };
    format!("{verb} {} by {by} ({})", metric_name(m), ci(interval))
}

/// A paragraph a lead can read: what decaying later bought, at what compute, and how sure that
/// is. Differences are paired by seed; with one seed it says that no uncertainty can be given.
pub fn conclusion(report: &crate::wire::SweepReport) -> String {
    let unit = report.unit.as_str();
    let bs = &report.branches;
    let (Some(first), Some(last)) = (bs.first(), bs.last()) else {
        return "No branch has finished yet.".into();
    };
    if bs.len() < 2 {
        return format!(
            "Only the branch decayed at {unit} {} has finished so far.",
            first.k
        );
    }
    let compute = last.length as f64 / first.length.max(1) as f64;
    let seeds = report.seeds_finished();
    let mut s = if seeds < 2 {
        one_seed_sentence(first, last, unit, compute)
    } else {
        let clauses: Vec<String> = FINAL_METRICS
            .iter()
            .filter(|&&m| m != Metric::TrainLoss)
            .filter_map(|&m| report.effect.get(m.key()).map(|e| effect_clause(m, e)))
            .collect();
        let (lead, rest) = clauses
            .split_first()
            .map_or((String::new(), &[][..]), |(a, b)| (a.clone(), b));
        let mut s = format!(
            "Decaying at {unit} {} instead of {} {lead} at {:.2}× the compute",
            last.k, first.k, compute
        );
        for c in rest {
            s.push_str("; ");
            s.push_str(c);
        }
        s.push_str(
            ". Each difference is taken within a seed (both branches share that seed's main \
             path) and summarised over the seeds with a Student-t 95% interval.",
        );
        if let Some(e) = report.effect.get(Metric::TrainLoss.key()) {
            let ci = e.ci95.map_or(String::new(), |[lo, hi]| {
                format!(
                    ", 95% CI {} to {}",
                    fmt_signed(Metric::TrainLoss, lo),
                    fmt_signed(Metric::TrainLoss, hi)
                )
            });
            s.push_str(&format!(
                " For comparison, the final train loss moved by {}{ci}.",
                fmt_signed(Metric::TrainLoss, e.mean)
            ));
        }
        s
    };
    if let Some(p) = &report.pearson.pooled {
        let trend = if p.r < -0.5 {
            "later decay gave lower test loss"
        } else if p.r > 0.5 {
            "later decay gave higher test loss"
        } else {
            "the decay point made no consistent difference"
        };
        let ci = match p.ci95 {
            Some([lo, hi]) if p.n >= 2 => format!(", 95% CI {lo:.2} to {hi:.2} over {} seeds", p.n),
            _ => String::new(),
        };
        s.push_str(&format!(
            " Across {} decay points, {trend} (Pearson r = {:.2} between decay {unit} and final test loss{ci}).",
            bs.len(),
            p.r
        ));
    }
    let best = bs
        .iter()
        .min_by(|a, b| a.test_loss.total_cmp(&b.test_loss))
        .unwrap_or(last);
    if best.k != last.k {
        s.push_str(&format!(
            " The lowest {}test loss came from decaying at {unit} {}.",
            if seeds >= 2 { "mean " } else { "" },
            best.k
        ));
    }
    if let Some(b) = &report.baseline {
        s.push_str(&baseline_sentence(b, unit));
    }
    if seeds < 2 {
        s.push_str(
            " This is one seed, so no uncertainty can be given: add seeds to tell the effect \
             from seed noise.",
        );
    }
    s
}

fn one_seed_sentence(
    first: &BranchSummary,
    last: &BranchSummary,
    unit: &str,
    compute: f64,
) -> String {
    let mut s = match (first.test_acc, last.test_acc) {
        (Some(a), Some(b)) => format!(
            "Decaying at {unit} {} instead of {} changed test accuracy from {} to {} (test loss {} → {}) at {:.2}× the compute.",
            last.k,
            first.k,
            fmt_value(Metric::TestAcc, a),
            fmt_value(Metric::TestAcc, b),
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
    s
}

/// A paragraph about one run: where it ended, its best point, and the schedule that got it there.
pub fn run_conclusion(spec: &experiment::RunSpec, points: &[MetricPoint]) -> String {
    let last = |m: Metric| points.iter().rev().find_map(|p| p.get(m));
    let Some(end) = points.last() else {
        return "No evaluation has finished yet.".into();
    };
    let schedule = spec.schedule.describe();
    match &spec.experiment {
        experiment::Experiment::Net(_) => {
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
        experiment::Experiment::Toy(_) => {
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

/// Results of a sweep's branches that completed, one per (seed, decay point), in the sweep's
/// order.
pub fn branch_results(sweep: &SweepSummary, metrics: &[RunMetrics]) -> Vec<BranchResult> {
    sweep
        .runs
        .iter()
        .filter(|r| r.run.status == RunStatus::Completed)
        .filter_map(|r| {
            let k = r.branch_at?;
            let m = metrics.iter().find(|m| m.run_id == r.run.id)?;
            result_of(r.seed, k, k + sweep.spec.branch_length, m)
        })
        .collect()
}

/// A finished run's final metrics as one (seed, k) result.
fn result_of(seed: u64, k: u64, length: u64, m: &RunMetrics) -> Option<BranchResult> {
    Some(BranchResult {
        seed,
        k,
        length,
        // Only networks record training seconds; the toy model has none to sum.
        seconds: m
            .points
            .iter()
            .any(|p| p.get(Metric::EpochSeconds).is_some())
            .then(|| {
                m.points
                    .iter()
                    .filter_map(|p| p.get(Metric::EpochSeconds))
                    .sum::<f64>()
            }),
        test_loss: last_value(m, Metric::TestLoss)?,
        test_acc: last_value(m, Metric::TestAcc),
        dist_mn: last_value(m, Metric::DistMn),
        train_loss: last_value(m, Metric::TrainLoss),
    })
}

/// Each final metric over `rs`, by key.
fn final_stats<'a>(rs: impl Iterator<Item = &'a BranchResult> + Clone) -> BTreeMap<String, Stat> {
    FINAL_METRICS
        .iter()
        .filter_map(|&m| {
            let vs: Vec<f64> = rs.clone().filter_map(|r| r.get(m)).collect();
            Some((m.key().to_owned(), Stat::of(&vs)?))
        })
        .collect()
}

/// Per decay point, the seeds' results summarised (decay points without a finished seed are
/// left out).
pub fn branch_summaries(results: &[BranchResult]) -> Vec<BranchSummary> {
    let mut ks: Vec<u64> = results.iter().map(|r| r.k).collect();
    ks.sort_unstable();
    ks.dedup();
    ks.into_iter()
        .filter_map(|k| {
            let mut rs: Vec<&BranchResult> = results.iter().filter(|r| r.k == k).collect();
            rs.sort_by_key(|r| r.seed);
            let stats = final_stats(rs.iter().copied());
            let mean = |m: Metric| stats.get(m.key()).map(|s| s.mean);
            let secs: Vec<f64> = rs.iter().filter_map(|r| r.seconds).collect();
            Some(BranchSummary {
                k,
                length: rs.first()?.length,
                seconds: Stat::of(&secs).map(|s| s.mean),
                test_loss: mean(Metric::TestLoss)?,
                test_acc: mean(Metric::TestAcc),
                dist_mn: mean(Metric::DistMn),
                n: rs.len(),
                stats,
            })
        })
        .collect()
}

/// Each final metric's paired difference between the latest and the earliest decay point,
/// over the seeds that finished both.
pub fn effects(results: &[BranchResult], summaries: &[BranchSummary]) -> BTreeMap<String, Effect> {
    let (Some(first), Some(last)) = (summaries.first(), summaries.last()) else {
        return BTreeMap::new();
    };
    if first.k == last.k {
        return BTreeMap::new();
    }
    let at = |seed: u64, k: u64| results.iter().find(|r| r.seed == seed && r.k == k);
    let mut seeds: Vec<u64> = results.iter().map(|r| r.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    FINAL_METRICS
        .iter()
        .filter_map(|&m| {
            let pairs: Vec<(f64, f64)> = seeds
                .iter()
                .filter_map(|&s| Some((at(s, first.k)?.get(m)?, at(s, last.k)?.get(m)?)))
                .collect();
            Some((m.key().to_owned(), Effect::paired(first.k, last.k, &pairs)?))
        })
        .collect()
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

/// A sweep's whole verdict, as the summary API, the pages and the share export give it.
pub fn sweep_report(sweep: &SweepSummary, metrics: &[RunMetrics]) -> crate::wire::SweepReport {
    let mut report = report_of(
        sweep.id,
        sweep.unit(),
        sweep.seeds(),
        branch_results(sweep, metrics),
    );
    if sweep.spec.schedule_free_baseline {
        report.baseline = Some(baseline_summary(
            sweep.spec.baseline_length(),
            &baseline_results(sweep, metrics),
            &report,
        ));
        report.conclusion = conclusion(&report);
    }
    report
}

/// The schedule-free baseline over seeds, beside the decay point with the lowest mean test
/// loss.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaselineSummary {
    /// Its length, in the sweep's unit (that of the longest branch).
    pub length: u64,
    /// Seeds whose baseline finished.
    pub n: usize,
    pub seconds: Option<f64>,
    /// Each final metric over those seeds, by key.
    pub stats: BTreeMap<String, Stat>,
    /// One row per finished seed (`k` is its length: it never decays).
    pub per_seed: Vec<BranchResult>,
    /// The decay point with the lowest mean final test loss.
    pub best_k: Option<u64>,
    /// Its length over the best branch's (compute ratio).
    pub compute_vs_best: Option<f64>,
    /// Baseline minus the best branch, paired by seed, per final metric.
    pub vs_best: BTreeMap<String, Effect>,
}

/// The finished baselines' final metrics, one per seed.
pub fn baseline_results(sweep: &SweepSummary, metrics: &[RunMetrics]) -> Vec<BranchResult> {
    let length = sweep.spec.baseline_length();
    sweep
        .runs
        .iter()
        .filter(|r| r.baseline && r.run.status == RunStatus::Completed)
        .filter_map(|r| {
            let m = metrics.iter().find(|m| m.run_id == r.run.id)?;
            result_of(r.seed, length, length, m)
        })
        .collect()
}

fn baseline_summary(
    length: u64,
    results: &[BranchResult],
    report: &crate::wire::SweepReport,
) -> BaselineSummary {
    let stats = final_stats(results.iter());
    let best = report
        .branches
        .iter()
        .min_by(|a, b| a.test_loss.total_cmp(&b.test_loss));
    let vs_best = best.map_or_else(BTreeMap::new, |b| {
        FINAL_METRICS
            .iter()
            .filter_map(|&m| {
                let pairs: Vec<(f64, f64)> = results
                    .iter()
                    .filter_map(|r| {
                        let branch = report
                            .per_seed
                            .iter()
                            .find(|p| p.seed == r.seed && p.k == b.k)?;
                        Some((branch.get(m)?, r.get(m)?))
                    })
                    .collect();
                Some((m.key().to_owned(), Effect::paired(b.k, length, &pairs)?))
            })
            .collect()
    });
    let secs: Vec<f64> = results.iter().filter_map(|r| r.seconds).collect();
    BaselineSummary {
        length,
        n: results.len(),
        seconds: (!secs.is_empty()).then(|| secs.iter().sum::<f64>() / secs.len() as f64),
        stats,
        per_seed: results.to_vec(),
        best_k: best.map(|b| b.k),
        compute_vs_best: best.map(|b| length as f64 / b.length.max(1) as f64),
        vs_best,
    }
}

/// The baseline's sentence in the verdict.
fn baseline_sentence(b: &BaselineSummary, unit: &str) -> String {
    let Some(loss) = b.stats.get(Metric::TestLoss.key()) else {
        return " The schedule-free baseline has not finished yet.".into();
    };
    let acc = b
        .stats
        .get(Metric::TestAcc.key())
        .map_or(String::new(), |a| {
            format!(", test accuracy {}", Stat::with_interval(Some(a), 100.0, 2))
        });
    let mut s = format!(
        " The schedule-free baseline (no decay, {} {unit}s) ended at test loss {}{acc}",
        b.length,
        Stat::with_interval(Some(loss), 1.0, 4)
    );
    match (b.best_k, b.vs_best.get(Metric::TestLoss.key())) {
        (Some(k), Some(e)) => {
            let ci = e
                .ci95
                .map_or(" (one seed: no interval)".to_owned(), |[lo, hi]| {
                    format!(
                        " (95% CI {} to {}, {} seeds{})",
                        fmt_signed(Metric::TestLoss, lo),
                        fmt_signed(Metric::TestLoss, hi),
                        e.n,
                        if e.distinguishable {
                            ""
                        } else {
                            ": within seed noise"
                        }
                    )
                });
            s.push_str(&format!(
                "; against the best decay point ({unit} {k}) its test loss differs by {}{ci}, at {:.2}× that branch's compute.",
                fmt_signed(Metric::TestLoss, e.mean),
                b.compute_vs_best.unwrap_or(f64::NAN)
            ));
        }
        _ => s.push('.'),
    }
    s
}

/// The verdict over per-seed results.
pub fn report_of(
    sweep: i64,
    unit: &str,
    seeds: Vec<u64>,
    results: Vec<BranchResult>,
) -> crate::wire::SweepReport {
    let branches = branch_summaries(&results);
    let pearson = pearson_report(&results);
    let mut report = crate::wire::SweepReport {
        sweep,
        unit: unit.to_owned(),
        seeds,
        pearson_k_test_loss: pearson.pooled.as_ref().map(|p| p.r),
        effect: effects(&results, &branches),
        pearson,
        method: crate::stats::METHOD.to_owned(),
        branches,
        per_seed: results,
        baseline: None,
        conclusion: String::new(),
    };
    report.conclusion = conclusion(&report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(k: u64, loss: f64) -> BranchResult {
        BranchResult {
            seed: 0,
            train_loss: None,
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
        let text = verdict(
            vec![
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
        let text = verdict(r.clone(), "epoch");
        assert!(text.contains("from 81.0% to 84.5%"), "{text}");
        assert!(text.contains("no uncertainty can be given"), "{text}");
        assert!(verdict(vec![], "epoch").contains("No branch"));
        assert!(verdict(r[..1].to_vec(), "epoch").contains("Only the branch"));
    }

    fn verdict(results: Vec<BranchResult>, unit: &str) -> String {
        report_of(1, unit, vec![0], results).conclusion
    }

    /// Five seeds whose levels differ, with a later decay that always lowers the test loss by
    /// 0.01 and moves accuracy by ±0.1 points either way.
    fn replicated() -> Vec<BranchResult> {
        let mut out = Vec::new();
        for seed in 0..5u64 {
            let level = 0.3 + 0.05 * seed as f64;
            let acc_jitter = if seed % 2 == 0 { 0.001 } else { -0.001 };
            for (k, drop) in [(5, 0.0), (30, 0.006), (60, 0.01)] {
                out.push(BranchResult {
                    seed,
                    k,
                    length: k + 15,
                    seconds: Some(10.0),
                    test_loss: level - drop,
                    test_acc: Some(0.83 + if k == 60 { acc_jitter } else { 0.0 }),
                    dist_mn: None,
                    train_loss: Some(0.001),
                })
            }
        }
        out
    }

    #[test]
    fn replicated_summary_has_stats_effects_and_pooled_r() {
        let rep = report_of(7, "epoch", (0..5).collect(), replicated());
        assert_eq!(rep.branches.len(), 3);
        let b5 = &rep.branches[0];
        assert_eq!((b5.k, b5.n), (5, 5));
        let loss = b5.stat(Metric::TestLoss).expect("test loss stats");
        assert!((loss.mean - 0.4).abs() < 1e-12 && loss.values.len() == 5);
        let e = &rep.effect["test_loss"];
        assert_eq!((e.from_k, e.to_k, e.n), (5, 60, 5));
        assert!((e.mean + 0.01).abs() < 1e-12 && e.distinguishable, "{e:?}");
        let acc = &rep.effect["test_acc"];
        assert!(!acc.distinguishable, "{acc:?}");
        // Within every seed the loss falls with k: every per-seed r is strongly negative.
        assert_eq!(rep.pearson.per_seed.len(), 5);
        assert!(rep.pearson.pooled.as_ref().is_some_and(|p| p.r < -0.9));
        assert_eq!(rep.per_seed.len(), 15);
    }

    #[test]
    fn bands_cover_the_steps_every_seed_has() {
        let a = vec![(0, 0.0, 1.0), (10, 1.0, 2.0), (20, 2.0, 3.0)];
        let b = vec![(0, 0.0, 3.0), (10, 1.0, 4.0)];
        let band = mean_band(&[a.clone(), b.clone()], Spread::MinMax);
        assert_eq!(band.len(), 2, "step 20 is not in every seed");
        assert_eq!((band[1].mean, band[1].lo, band[1].hi), (3.0, 2.0, 4.0));
        let sd = mean_band(&[a, b], Spread::Sd);
        // Two values 1 and 3: sd √2.
        assert!((sd[0].hi - 2.0 - 2f64.sqrt()).abs() < 1e-12);
        assert!(mean_band(&[], Spread::Sd).is_empty());
    }

    #[test]
    fn small_numbers_keep_their_digits() {
        assert_eq!(fmt(0.6200), "0.6200");
        assert_eq!(fmt(0.001234), "0.00123");
        assert_eq!(fmt(-0.0000123), "-1.23e-5");
        assert_eq!(fmt(0.0), "0.0000");
    }

    #[test]
    fn replicated_verdict_names_effects_and_intervals() {
        let text = report_of(7, "epoch", (0..5).collect(), replicated()).conclusion;
        assert!(
            text.contains("Decaying at epoch 60 instead of 5 lowered test loss by 0.0100 (95% CI −0.0100 to −0.0100, 5 seeds) at 3.75× the compute"),
            "{text}"
        );
        assert!(
            text.contains("test accuracy did not change beyond seed noise (+0.02 points, 95% CI"),
            "{text}"
        );
        assert!(
            text.contains("paired") || text.contains("within a seed"),
            "{text}"
        );
        assert!(!text.contains("no uncertainty"), "{text}");
        assert!(text.contains("over 5 seeds"), "{text}");
    }
}
