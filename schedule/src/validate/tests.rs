//! Tests of `validate.rs`, and one valid spec of every kind for the other modules' tests.

use super::*;
use crate::{Anneal, Cooldown, Schedule as S};

/// One valid spec of every kind.
pub(crate) fn valid_examples() -> Vec<S> {
    vec![
        S::Constant { lr: 0.1 },
        S::Step {
            lr: 0.1,
            step_size: 30,
            gamma: 0.1,
        },
        S::MultiStep {
            lr: 0.1,
            milestones: vec![0, 50, 80],
            gamma: 0.1,
        },
        S::Exponential {
            lr: 0.1,
            gamma: 0.99,
        },
        S::Cosine {
            lr: 0.1,
            t_max: 100,
            eta_min: 0.0,
        },
        S::Linear {
            lr: 0.1,
            start_factor: 1.0,
            end_factor: 0.0,
            total_iters: 10,
        },
        S::Polynomial {
            lr: 0.1,
            power: 0.0,
            total_iters: 10,
        },
        S::OneCycle {
            max_lr: 0.1,
            total_steps: 100,
            pct_start: 0.5,
            anneal: Anneal::Linear,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: true,
        },
        S::CosineWarmRestarts {
            lr: 0.1,
            t_0: 10,
            t_mult: 2.0,
            eta_min: 0.001,
        },
        S::Warmup {
            warmup_steps: 0,
            start_factor: 1.0,
            inner: Box::new(S::Constant { lr: 0.1 }),
        },
        S::Wsd {
            lr: 0.1,
            warmup_steps: 0,
            stable_steps: 0,
            decay_steps: 1,
            cooldown: Cooldown::OneMinusSqrt,
            floor_lr: 0.1,
        },
        S::DecayAt {
            lr: 0.1,
            decay_step: 0,
            factor: 0.1,
            second_decay_step: Some(1),
            second_factor: Some(0.01),
        },
        S::Sequential {
            parts: vec![
                S::Constant { lr: 0.1 },
                S::Warmup {
                    warmup_steps: 5,
                    start_factor: 0.1,
                    inner: Box::new(S::Cosine {
                        lr: 0.1,
                        t_max: 10,
                        eta_min: 0.0,
                    }),
                },
            ],
            milestones: vec![10],
        },
    ]
}

fn errors(s: &S) -> Vec<(String, String)> {
    match s.validate() {
        Ok(()) => Vec::new(),
        Err(errs) => errs.into_iter().map(|e| (e.field, e.message)).collect(),
    }
}

#[track_caller]
fn assert_errors(s: S, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(f, m)| ((*f).to_owned(), (*m).to_owned()))
        .collect();
    assert_eq!(errors(&s), want, "{s:?}");
}

#[test]
fn every_kind_has_a_valid_spec() {
    for s in valid_examples() {
        assert_eq!(s.validate(), Ok(()), "{s:?}");
    }
}

#[test]
fn non_finite_numbers_are_named() {
    assert_errors(
        S::Constant { lr: f64::NAN },
        &[("lr", "must be a finite number")],
    );
    assert_errors(
        S::Cosine {
            lr: f64::INFINITY,
            t_max: 10,
            eta_min: f64::NEG_INFINITY,
        },
        &[
            ("lr", "must be a finite number"),
            ("eta_min", "must be a finite number"),
        ],
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    assert_errors(
        S::Step {
            lr: 0.0,
            step_size: 0,
            gamma: -0.5,
        },
        &[
            ("lr", "must be > 0"),
            ("step_size", "must be > 0"),
            ("gamma", "must be > 0"),
        ],
    );
}

#[test]
fn ranges_of_factors() {
    assert_errors(
        S::Linear {
            lr: 0.1,
            start_factor: 0.0,
            end_factor: 1.5,
            total_iters: 0,
        },
        &[
            ("start_factor", "must be > 0"),
            ("end_factor", "must be ≤ 1"),
            ("total_iters", "must be > 0"),
        ],
    );
    assert_errors(
        S::Linear {
            lr: 0.1,
            start_factor: 1.01,
            end_factor: -0.1,
            total_iters: 3,
        },
        &[
            ("start_factor", "must be ≤ 1"),
            ("end_factor", "must be ≥ 0"),
        ],
    );
    assert_errors(
        S::Polynomial {
            lr: -1.0,
            power: -2.0,
            total_iters: 0,
        },
        &[
            ("lr", "must be > 0"),
            ("power", "must be ≥ 0"),
            ("total_iters", "must be > 0"),
        ],
    );
    assert_errors(
        S::Exponential {
            lr: 0.1,
            gamma: 0.0,
        },
        &[("gamma", "must be > 0")],
    );
    assert_errors(
        S::Cosine {
            lr: 0.1,
            t_max: 0,
            eta_min: -0.1,
        },
        &[("t_max", "must be > 0"), ("eta_min", "must be ≥ 0")],
    );
}

#[test]
fn milestones_must_increase_strictly() {
    let ms = |milestones| S::MultiStep {
        lr: 0.1,
        milestones,
        gamma: 0.1,
    };
    assert_errors(
        ms(vec![5, 5]),
        &[("milestones", "milestones must be strictly increasing")],
    );
    assert_errors(
        ms(vec![9, 3]),
        &[("milestones", "milestones must be strictly increasing")],
    );
    assert_errors(ms(vec![]), &[]);
    assert_errors(
        ms((0..=MAX_MILESTONES as u64).collect()),
        &[("milestones", "must have at most 1000 entries")],
    );
}

#[test]
fn one_cycle_knobs() {
    let oc = |pct_start, three_phase| S::OneCycle {
        max_lr: 0.1,
        total_steps: 0,
        pct_start,
        anneal: Anneal::Cos,
        div_factor: 0.0,
        final_div_factor: f64::NAN,
        three_phase,
    };
    assert_errors(
        oc(1.0, false),
        &[
            ("total_steps", "must be > 0"),
            ("pct_start", "must be < 1"),
            ("div_factor", "must be > 0"),
            ("final_div_factor", "must be a finite number"),
        ],
    );
    let errs = errors(&oc(0.6, true));
    assert!(
        errs.contains(&("pct_start".into(), "must be ≤ 0.5 with three_phase".into())),
        "{errs:?}"
    );
    let errs = errors(&oc(0.0, false));
    assert!(
        errs.contains(&("pct_start".into(), "must be > 0".into())),
        "{errs:?}"
    );
}

#[test]
fn warm_restart_knobs() {
    let wr = |t_0, t_mult| S::CosineWarmRestarts {
        lr: 0.1,
        t_0,
        t_mult,
        eta_min: 0.0,
    };
    assert_errors(
        wr(0, 0.5),
        &[("t_0", "must be > 0"), ("t_mult", "must be ≥ 1")],
    );
    assert_errors(wr(5, 1.5), &[("t_mult", "must be a whole number")]);
    assert_errors(wr(5, 3.0), &[]);
}

#[test]
fn wsd_knobs() {
    let wsd = |lr, decay_steps, floor_lr| S::Wsd {
        lr,
        warmup_steps: 10,
        stable_steps: 10,
        decay_steps,
        cooldown: Cooldown::Cosine,
        floor_lr,
    };
    assert_errors(
        wsd(0.1, 0, -0.1),
        &[("decay_steps", "must be > 0"), ("floor_lr", "must be ≥ 0")],
    );
    assert_errors(wsd(0.1, 5, 0.2), &[("floor_lr", "must not exceed lr")]);
    assert_errors(wsd(-0.1, 5, 0.2), &[("lr", "must be > 0")]);
}

#[test]
fn decay_at_second_decay_comes_as_a_pair_and_later() {
    let d = |second_decay_step, second_factor| S::DecayAt {
        lr: 0.1,
        decay_step: 100,
        factor: 0.1,
        second_decay_step,
        second_factor,
    };
    assert_errors(
        d(Some(200), None),
        &[("second_factor", "is required with second_decay_step")],
    );
    assert_errors(
        d(None, Some(0.01)),
        &[("second_decay_step", "is required with second_factor")],
    );
    assert_errors(
        d(Some(100), Some(0.0)),
        &[
            ("second_decay_step", "must be after decay_step"),
            ("second_factor", "must be > 0"),
        ],
    );
    assert_errors(d(Some(101), Some(0.01)), &[]);
}

#[test]
fn nested_paths() {
    let s = S::Warmup {
        warmup_steps: 5,
        start_factor: 0.0,
        inner: Box::new(S::Sequential {
            parts: vec![
                S::Constant { lr: 0.1 },
                S::Cosine {
                    lr: 0.1,
                    t_max: 0,
                    eta_min: 0.0,
                },
                S::Warmup {
                    warmup_steps: 1,
                    start_factor: 0.5,
                    inner: Box::new(S::Constant { lr: -1.0 }),
                },
            ],
            milestones: vec![10, 5],
        }),
    };
    assert_errors(
        s,
        &[
            ("start_factor", "must be > 0"),
            ("inner.milestones", "milestones must be strictly increasing"),
            ("inner.parts[1].t_max", "must be > 0"),
            ("inner.parts[2].inner.lr", "must be > 0"),
        ],
    );
}

#[test]
fn sequential_shape() {
    let c = || S::Constant { lr: 0.1 };
    assert_errors(
        S::Sequential {
            parts: vec![c(), c()],
            milestones: vec![],
        },
        &[(
            "milestones",
            "must have one entry fewer than parts (2 parts need 1 milestones, got 0)",
        )],
    );
    assert_errors(
        S::Sequential {
            parts: vec![],
            milestones: vec![],
        },
        &[("parts", "must have at least one part")],
    );
    // As in PyTorch, a milestone at 0 skips parts[0]: a branch decayed from the start.
    assert_errors(
        S::Sequential {
            parts: vec![c(), c()],
            milestones: vec![0],
        },
        &[],
    );
    assert_errors(
        S::Sequential {
            parts: vec![c()],
            milestones: vec![],
        },
        &[],
    );
}

#[test]
fn nesting_is_limited() {
    let mut s = S::Constant { lr: 0.1 };
    for _ in 1..MAX_DEPTH {
        s = S::Warmup {
            warmup_steps: 1,
            start_factor: 0.5,
            inner: Box::new(s),
        };
    }
    assert_eq!(s.validate(), Ok(()), "depth {MAX_DEPTH} is allowed");
    let too_deep = S::Warmup {
        warmup_steps: 1,
        start_factor: 0.5,
        inner: Box::new(s),
    };
    let path = ["inner"; MAX_DEPTH].join(".");
    assert_errors(
        too_deep,
        &[(path.as_str(), "nesting is too deep (at most 8 levels)")],
    );
}

#[test]
fn total_size_is_limited() {
    let wide = |n: usize| S::Sequential {
        parts: vec![S::Constant { lr: 0.1 }; n],
        milestones: (1..n as u64).collect(),
    };
    assert_eq!(wide(MAX_NODES - 1).validate(), Ok(()));
    // Each part of the outer sequential is itself wide: a million nodes in all.
    let huge = S::Sequential {
        parts: vec![wide(1000); 1000],
        milestones: (1..1000).collect(),
    };
    let errs = errors(&huge);
    assert_eq!(
        errs,
        vec![(
            "parts[0].parts[998]".to_owned(),
            "the schedule has too many parts (at most 1000 in all)".to_owned()
        )]
    );
}
