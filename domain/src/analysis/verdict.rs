//! The plain-language verdicts: a sweep's paragraph (what decaying later bought, at what
//! compute, how sure that is), its baseline and correlation sentences, and a run's paragraph.

use super::format::{fmt, fmt_signed, fmt_value, metric_name};
use crate::metric::Metric;
use crate::stats::{Effect, Stat};
use crate::wire::{
    BaselineSummary, BranchSummary, FINAL_METRICS, MetricPoint, PearsonReport, SweepReport,
};

/// A paragraph a lead can read: what decaying later bought, at what compute, and how sure that
/// is. Differences are paired by seed; with one seed it says that no uncertainty can be given.
pub fn conclusion(report: &SweepReport) -> String {
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
