//! Predictions on toy sweeps whose loss is computed here by hand: one that follows a law, one
//! that no law's family can follow, one too little finished; a run's reference; Kendall's τ.

use std::collections::BTreeMap;

use schedule::Schedule;

use super::*;
use crate::law::LawKind;
use crate::metric::Metric;
use crate::wire::{
    LawPrediction, Lineage, MetricPoint, ReferenceLaw, RunMetrics, RunStatus, RunSummary, SweepRun,
    SweepSummary,
};

/// A small toy sweep: constant 0.1 for 4,000 steps, decays to 0.01 at these points.
fn spec(ks: &[u64]) -> experiment::SweepSpec {
    let mut s = experiment::SweepSpec::toy_paper();
    if let experiment::Experiment::Toy(t) = &mut s.main.experiment {
        t.steps = 4_000;
        t.eval_every = 50;
    }
    s.main.schedule = Schedule::Constant { lr: 0.1 };
    s.after = Schedule::Constant { lr: 0.01 };
    s.branch_at = ks.to_vec();
    s.branch_length = 1_000;
    s
}

fn run(id: i64, spec: experiment::RunSpec, done: bool) -> RunSummary {
    RunSummary {
        id,
        name: spec.name.clone(),
        status: if done {
            RunStatus::Completed
        } else {
            RunStatus::Running
        },
        message: None,
        spec,
        backend: None,
        device: None,
        created_at_ms: 0,
        finished_at_ms: None,
        last_step: None,
        lineage: Lineage::default(),
        executor: None,
        executor_job_id: None,
        executor_node: None,
    }
}

/// Rows every 50 steps of a loss that follows `loss(S₁, S₂)` on the run's own schedule,
/// computed here by hand (not by the law module), from `from` on.
fn rows(
    spec: &experiment::RunSpec,
    from: u64,
    loss: impl Fn(f64, f64, u64) -> f64,
) -> Vec<MetricPoint> {
    let total = spec.total_steps();
    let (mut s1, mut s2, mut m, mut prev) = (0.0, 0.0, 0.0, spec.schedule.lr_at(0));
    let mut out = Vec::new();
    for step in 0..=total {
        if step % 50 == 0 && step >= from {
            let v = loss(s1, s2, step);
            let values = BTreeMap::from([
                (Metric::TestLoss.key().to_owned(), v),
                (Metric::TrainLoss.key().to_owned(), 0.8 * v),
            ]);
            out.push(MetricPoint {
                step,
                epoch: 0.0,
                values,
            });
        }
        if step == total {
            break;
        }
        let lr = spec.schedule.lr_at(step);
        m = 0.999 * m + (prev - lr);
        prev = lr;
        s1 += lr;
        s2 += m;
    }
    out
}

fn sweep_of(
    ks: &[u64],
    finished: &[Option<u64>],
    loss: impl Fn(f64, f64, u64) -> f64 + Copy,
) -> (SweepSummary, Vec<RunMetrics>) {
    let s = spec(ks);
    let mut runs = vec![SweepRun {
        branch_at: None,
        baseline: false,
        seed: s.main.seed,
        run: run(1, s.main_for(s.main.seed), finished.contains(&None)),
    }];
    let mut metrics = vec![RunMetrics {
        run_id: 1,
        points: rows(&s.main, 0, loss),
    }];
    for (i, &k) in ks.iter().enumerate() {
        let id = 2 + i as i64;
        let b = s.branch(k);
        metrics.push(RunMetrics {
            run_id: id,
            points: rows(&b, k, loss),
        });
        runs.push(SweepRun {
            branch_at: Some(k),
            baseline: false,
            seed: s.main.seed,
            run: run(id, b, finished.contains(&Some(k))),
        });
    }
    let sweep = SweepSummary {
        id: 7,
        name: s.name.clone(),
        spec: s,
        created_at_ms: 0,
        runs,
    };
    (sweep, metrics)
}

/// Tissue et al.'s form with λ = 0.999, on the raw LR.
fn lawful(s1: f64, s2: f64, _step: u64) -> f64 {
    0.2 + 0.5 * (s1 + 1.0).powf(-0.6) - 0.0005 * s2
}

#[test]
fn a_loss_that_follows_the_law_is_predicted_and_ordered() {
    let ks = [500, 1_500, 2_500, 4_000];
    let all: Vec<Option<u64>> = std::iter::once(None).chain(ks.map(Some)).collect();
    let (sweep, metrics) = sweep_of(&ks, &all, lawful);
    let p = sweep_prediction(&sweep, &metrics).expect("enough has finished");
    assert_eq!(p.unit, "step");
    assert_eq!(p.laws.len(), LawKind::ALL.len());
    for l in &p.laws {
        assert_eq!(l.fitted_on, vec![1, 2], "main path and earliest branch");
        assert_eq!(l.fitted_k, 500);
        assert_eq!(
            l.branches.iter().map(|b| b.k).collect::<Vec<_>>(),
            vec![1_500, 2_500, 4_000]
        );
        let b = &l.branches[0];
        assert_eq!(b.n, 1);
        assert!(
            (b.rel_error
                - (b.predicted_final_test_loss - b.actual_final_test_loss)
                    / b.actual_final_test_loss)
                .abs()
                < 1e-12
        );
        assert!(b.curve.len() > 100 && b.curve[0].step == 1_500);
        assert_eq!(b.curve.last().map(|c| c.step), Some(2_500));
        assert!(b.curve.iter().all(|c| c.train_loss.is_some()));
    }
    let tissue = p
        .laws
        .iter()
        .find(|l| l.law == LawKind::Tissue)
        .expect("tissue");
    let e = tissue.mean_abs_rel_error.expect("held-out branches");
    assert!(e < 0.01, "a lawful loss is predicted within 1%, got {e}");
    assert!(!tissue.poor_fit, "{}", tissue.assessment);
    assert_eq!(tissue.best_measured_k, Some(4_000));
    assert_eq!(tissue.best_predicted_k, Some(4_000));
    assert_eq!(tissue.kendall_tau, Some(1.0));
    let rec = tissue.recommendation.as_ref().expect("a budget");
    assert_eq!(rec.budget, 5_000);
    assert!(rec.k >= 1 && rec.k <= 5_000);
    assert!(
        tissue.assessment.contains("predicts"),
        "{}",
        tissue.assessment
    );
    let best = p.best().expect("a law fitted");
    assert!(best.mean_abs_rel_error.is_some());
    let r = ReferenceLaw::of_sweep(&sweep, &p);
    assert_eq!(r.total_steps, 5_000);
    assert!(r.best().is_some_and(|f| f.validation_rel_error.is_some()));
}

#[test]
fn a_loss_the_laws_cannot_follow_is_flagged() {
    // A decay that helps less the later it comes (its gain shrinks with the area already
    // travelled, S₂·S₁): outside both laws' families, which add the two areas' effects.
    let ks = [500, 1_500, 2_500, 4_000];
    let all: Vec<Option<u64>> = std::iter::once(None).chain(ks.map(Some)).collect();
    let overfit = |s1: f64, s2: f64, _| lawful(s1, s2, 0) + 2e-6 * s2 * s1;
    let (sweep, metrics) = sweep_of(&ks, &all, overfit);
    let p = sweep_prediction(&sweep, &metrics).expect("enough has finished");
    let flagged: Vec<&LawPrediction> = p.laws.iter().filter(|l| l.poor_fit).collect();
    assert!(
        !flagged.is_empty(),
        "{:#?}",
        p.laws
            .iter()
            .map(|l| (&l.assessment, l.mean_abs_rel_error))
            .collect::<Vec<_>>()
    );
    for l in flagged {
        assert!(l.assessment.contains("fits badly"), "{}", l.assessment);
        assert!(l.assessment.contains('%'));
    }
}

#[test]
fn too_little_finished_is_a_sentence_not_a_fit() {
    let ks = [500, 1_500];
    // Only the main path: no annealing to fit.
    let (sweep, metrics) = sweep_of(&ks, &[None], lawful);
    let e = sweep_prediction(&sweep, &metrics).expect_err("one path");
    assert!(
        e.contains("constant LR") && e.contains("1 of this sweep's 3"),
        "{e}"
    );
    // A branch without its main path finished is not enough either.
    let (sweep, metrics) = sweep_of(&ks, &[Some(500)], lawful);
    assert!(sweep_prediction(&sweep, &metrics).is_err());
    // Main and one branch: fitted, with nothing held out yet.
    let (sweep, metrics) = sweep_of(&ks, &[None, Some(1_500)], lawful);
    let p = sweep_prediction(&sweep, &metrics).expect("two paths");
    for l in &p.laws {
        assert_eq!(l.fitted_k, 1_500);
        assert!(l.branches.is_empty() && l.mean_abs_rel_error.is_none());
        assert!(l.assessment.contains("no other branch"), "{}", l.assessment);
    }
}

#[test]
fn a_run_reference_is_validated_on_its_tail() {
    let mut s = spec(&[1_000]);
    s.branch_length = 2_000;
    let b = s.branch(1_000);
    let points = rows(&b, 0, lawful);
    let r = run_reference(&run(5, b.clone(), true), &points).expect("finished");
    assert_eq!(r.total_steps, 3_000);
    assert!(r.label.starts_with("run 5"));
    let best = r.best().expect("fitted");
    assert!(
        best.validation_rel_error.is_some_and(|e| e < 0.02),
        "{best:?}"
    );
    assert!(best.validation.contains("70%"));
    let unfinished = run_reference(&run(5, b, false), &points).expect_err("running");
    assert!(unfinished.contains("finished"));
}

#[test]
fn kendall_tau_by_hand() {
    assert_eq!(
        kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]),
        Some(1.0)
    );
    assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
    // Pairs: (1,2)+, (1,3)−, (2,3)− → −1/3.
    let t = kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).expect("3 points");
    assert!((t - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(kendall_tau(&[1.0], &[1.0]), None);
}
