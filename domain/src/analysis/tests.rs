//! The sweep analysis on hand-made results: smoothing, thinning, correlation, aggregation over
//! seeds and the verdict's wording.

use super::format::fmt;
use super::*;
use crate::metric::Metric;

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
