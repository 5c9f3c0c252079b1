//! A sweep's runs reduced to its report: each finished branch's final metrics, their summary
//! per decay point over seeds, the paired effects and the schedule-free baseline.

use std::collections::BTreeMap;

use super::correlation::pearson_report;
use super::series::last_value;
use super::verdict::conclusion;
use crate::metric::Metric;
use crate::stats::{Effect, Stat};
use crate::wire::{
    BaselineSummary, BranchResult, BranchSummary, FINAL_METRICS, RunMetrics, RunStatus,
    SweepReport, SweepSummary,
};

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

/// A sweep's whole verdict, as the summary API, the pages and the share export give it.
pub fn sweep_report(sweep: &SweepSummary, metrics: &[RunMetrics]) -> SweepReport {
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
    report: &SweepReport,
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

/// The verdict over per-seed results.
pub fn report_of(
    sweep: i64,
    unit: &str,
    seeds: Vec<u64>,
    results: Vec<BranchResult>,
) -> SweepReport {
    let branches = branch_summaries(&results);
    let pearson = pearson_report(&results);
    let mut report = SweepReport {
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
