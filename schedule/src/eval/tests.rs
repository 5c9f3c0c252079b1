//! Tests of `eval.rs`.

use super::*;
use crate::Schedule as S;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
}

#[track_caller]
fn assert_lrs(s: &S, want: &[(u64, f64)]) {
    for &(step, lr) in want {
        let got = s.lr_at(step);
        assert!(close(got, lr), "{s:?} at step {step}: got {got}, want {lr}");
    }
}

#[test]
fn constant_is_constant() {
    assert_lrs(
        &S::Constant { lr: 0.1 },
        &[(0, 0.1), (1, 0.1), (u64::MAX, 0.1)],
    );
}

#[test]
fn step_decays_exactly_at_multiples() {
    let s = S::Step {
        lr: 1.0,
        step_size: 3,
        gamma: 0.5,
    };
    assert_lrs(
        &s,
        &[
            (0, 1.0),
            (2, 1.0),
            (3, 0.5),
            (5, 0.5),
            (6, 0.25),
            (9, 0.125),
        ],
    );
}

#[test]
fn multi_step_decays_at_the_milestone_itself() {
    let s = S::MultiStep {
        lr: 1.0,
        milestones: vec![5, 8],
        gamma: 0.1,
    };
    assert_lrs(
        &s,
        &[
            (0, 1.0),
            (4, 1.0),
            (5, 0.1),
            (7, 0.1),
            (8, 0.01),
            (1000, 0.01),
        ],
    );
    let at_zero = S::MultiStep {
        lr: 1.0,
        milestones: vec![0],
        gamma: 0.5,
    };
    assert_lrs(&at_zero, &[(0, 0.5), (3, 0.5)]);
}

#[test]
fn exponential_multiplies_every_step() {
    let s = S::Exponential {
        lr: 2.0,
        gamma: 0.5,
    };
    assert_lrs(&s, &[(0, 2.0), (1, 1.0), (4, 0.125)]);
}

#[test]
fn cosine_reaches_eta_min_at_t_max_and_rises_after() {
    let s = S::Cosine {
        lr: 1.0,
        t_max: 4,
        eta_min: 0.0,
    };
    let h = 0.5 * (1.0 + (PI / 4.0).cos());
    assert_lrs(
        &s,
        &[
            (0, 1.0),
            (1, h),
            (2, 0.5),
            (3, 1.0 - h),
            (5, 1.0 - h),
            (6, 0.5),
            (8, 1.0),
            (9, h),
        ],
    );
    assert_eq!(s.lr_at(4), 0.0);
    assert_eq!(s.lr_at(12), 0.0);
    let with_floor = S::Cosine {
        lr: 0.1,
        t_max: 10,
        eta_min: 0.01,
    };
    assert_lrs(&with_floor, &[(0, 0.1), (5, 0.055), (10, 0.01)]);
}

#[test]
fn cosine_stays_accurate_at_huge_steps() {
    let s = S::Cosine {
        lr: 1.0,
        t_max: 1000,
        eta_min: 0.0,
    };
    let far = 2000 * 1_000_000_000_000 + 500;
    assert!(close(s.lr_at(far), s.lr_at(500)));
}

#[test]
fn linear_holds_end_factor_past_total_iters() {
    let s = S::Linear {
        lr: 1.0,
        start_factor: 0.5,
        end_factor: 0.0,
        total_iters: 10,
    };
    assert_lrs(&s, &[(0, 0.5), (5, 0.25), (9, 0.05)]);
    assert_eq!(s.lr_at(10), 0.0);
    assert_eq!(s.lr_at(11), 0.0);
}

#[test]
fn polynomial_hits_zero_at_total_iters() {
    let s = S::Polynomial {
        lr: 1.0,
        power: 2.0,
        total_iters: 4,
    };
    assert_lrs(&s, &[(0, 1.0), (1, 0.5625), (2, 0.25), (3, 0.0625)]);
    assert_eq!(s.lr_at(4), 0.0);
    assert_eq!(s.lr_at(100), 0.0);
}

fn one_cycle(total_steps: u64, pct_start: f64, anneal: Anneal, three_phase: bool) -> S {
    S::OneCycle {
        max_lr: 1.0,
        total_steps,
        pct_start,
        anneal,
        div_factor: 10.0,
        final_div_factor: 100.0,
        three_phase,
    }
}

#[test]
fn one_cycle_two_phase_linear_by_hand() {
    // Phase ends: 0.5·11 − 1 = 4.5 and 10. Initial 0.1, min 0.001.
    let s = one_cycle(11, 0.5, Anneal::Linear, false);
    assert_lrs(&s, &[(0, 0.1), (3, 0.1 + 0.9 * 3.0 / 4.5), (10, 0.001)]);
    let at7 = 1.0 + (0.001 - 1.0) * (7.0 - 4.5) / (10.0 - 4.5);
    assert_lrs(&s, &[(7, at7)]);
    // Past the cycle it holds the final LR instead of raising like PyTorch.
    assert_lrs(&s, &[(11, 0.001), (u64::MAX, 0.001)]);
}

#[test]
fn one_cycle_three_phase_cos_by_hand() {
    // Ends: 0.25·20 − 1 = 4, 0.5·20 − 2 = 8, 19.
    let s = one_cycle(20, 0.25, Anneal::Cos, true);
    assert_lrs(&s, &[(0, 0.1), (4, 1.0), (6, 0.55), (8, 0.1), (19, 0.001)]);
    // Third phase runs from 8 to 19: step 13 is 5/11 of the way.
    let at13 = 0.001 + (0.1 - 0.001) / 2.0 * ((PI * 5.0 / 11.0).cos() + 1.0);
    assert_lrs(&s, &[(13, at13)]);
}

#[test]
fn one_cycle_zero_length_phase_does_not_divide_by_zero() {
    // pct_start·total_steps = 1 makes the first phase [0, 0], where PyTorch divides 0 by 0.
    let s = one_cycle(10, 0.1, Anneal::Cos, false);
    assert_lrs(&s, &[(0, 1.0)]);
    assert!((0..=10).all(|t| s.lr_at(t).is_finite()));
}

#[test]
fn warm_restarts_restart_exactly_on_schedule() {
    let s = S::CosineWarmRestarts {
        lr: 1.0,
        t_0: 4,
        t_mult: 2.0,
        eta_min: 0.0,
    };
    // Cycle n starts at 4·(2^n − 1) and lasts 4·2^n steps.
    for n in [0, 1, 2, 3, 4, 5, 40] {
        let start = 4 * ((1u64 << n) - 1);
        assert_eq!(s.lr_at(start), 1.0, "restart at {start}");
        assert!(
            close(s.lr_at(start + 2 * (1 << n)), 0.5),
            "middle of cycle {n}"
        );
        if start > 0 {
            assert!(s.lr_at(start - 1) < 0.15, "end of cycle before {start}");
        }
    }
    let flat = S::CosineWarmRestarts {
        lr: 1.0,
        t_0: 4,
        t_mult: 1.0,
        eta_min: 0.5,
    };
    assert_lrs(
        &flat,
        &[(0, 1.0), (2, 0.75), (4, 1.0), (6, 0.75), (400, 1.0)],
    );
}

#[test]
fn warm_restarts_match_stepped_counters() {
    for (t_0, t_mult) in [(1u64, 2u64), (3, 3), (7, 2), (2, 10)] {
        let s = S::CosineWarmRestarts {
            lr: 1.0,
            t_0,
            t_mult: t_mult as f64,
            eta_min: 0.0,
        };
        let (mut t_cur, mut t_i) = (0u64, t_0);
        for step in 0..5000 {
            let want = 0.5 * (1.0 + (PI * t_cur as f64 / t_i as f64).cos());
            assert_eq!(s.lr_at(step), want, "t_0 {t_0} t_mult {t_mult} step {step}");
            t_cur += 1;
            if t_cur >= t_i {
                t_cur -= t_i;
                t_i *= t_mult;
            }
        }
    }
}

#[test]
fn warm_restarts_survive_extreme_values() {
    let s = S::CosineWarmRestarts {
        lr: 1.0,
        t_0: u64::MAX,
        t_mult: 1e18,
        eta_min: 0.0,
    };
    assert!(s.lr_at(u64::MAX).is_finite());
    let s = S::CosineWarmRestarts {
        lr: 1.0,
        t_0: 1,
        t_mult: 2.0,
        eta_min: 0.0,
    };
    assert!(s.lr_at(u64::MAX).is_finite());
}

#[test]
fn warmup_around_cosine_starts_inner_clock_after_warmup() {
    let inner = S::Cosine {
        lr: 1.0,
        t_max: 10,
        eta_min: 0.0,
    };
    let s = S::Warmup {
        warmup_steps: 4,
        start_factor: 0.2,
        inner: Box::new(inner.clone()),
    };
    assert_lrs(&s, &[(0, 0.2), (1, 0.4), (2, 0.6), (3, 0.8), (4, 1.0)]);
    for t in 4..30 {
        assert_eq!(s.lr_at(t), inner.lr_at(t - 4));
    }
    let none = S::Warmup {
        warmup_steps: 0,
        start_factor: 0.2,
        inner: Box::new(inner.clone()),
    };
    assert_eq!(none.lr_at(0), 1.0);
}

#[test]
fn warmup_aims_at_the_inner_first_value() {
    let inner = S::Linear {
        lr: 1.0,
        start_factor: 0.5,
        end_factor: 1.0,
        total_iters: 10,
    };
    let s = S::Warmup {
        warmup_steps: 2,
        start_factor: 0.5,
        inner: Box::new(inner),
    };
    assert_lrs(&s, &[(0, 0.25), (1, 0.375), (2, 0.5), (3, 0.55)]);
}

#[test]
fn wsd_phases_by_hand() {
    let wsd = |cooldown| S::Wsd {
        lr: 1.0,
        warmup_steps: 4,
        stable_steps: 2,
        decay_steps: 4,
        cooldown,
        floor_lr: 0.2,
    };
    let s = wsd(Cooldown::Linear);
    assert_lrs(
        &s,
        &[
            (0, 0.0),
            (1, 0.25),
            (3, 0.75),
            (4, 1.0),
            (5, 1.0),
            (6, 1.0),
            (7, 0.8),
            (8, 0.6),
            (9, 0.4),
        ],
    );
    assert_lrs(&s, &[(10, 0.2), (1000, 0.2)]);
    let s = wsd(Cooldown::Cosine);
    assert_lrs(&s, &[(6, 1.0), (8, 0.6), (10, 0.2)]);
    let s = wsd(Cooldown::OneMinusSqrt);
    assert_lrs(&s, &[(6, 1.0), (7, 0.6), (10, 0.2)]);
    let no_warmup = S::Wsd {
        lr: 1.0,
        warmup_steps: 0,
        stable_steps: 0,
        decay_steps: 2,
        cooldown: Cooldown::Linear,
        floor_lr: 0.0,
    };
    assert_lrs(&no_warmup, &[(0, 1.0), (1, 0.5)]);
    assert_eq!(no_warmup.lr_at(2), 0.0);
}

#[test]
fn decay_at_with_second_decay() {
    let s = S::DecayAt {
        lr: 0.1,
        decay_step: 3,
        factor: 0.1,
        second_decay_step: Some(5),
        second_factor: Some(0.01),
    };
    assert_lrs(
        &s,
        &[
            (0, 0.1),
            (2, 0.1),
            (3, 0.01),
            (4, 0.01),
            (5, 0.001),
            (99, 0.001),
        ],
    );
    let once = S::DecayAt {
        lr: 0.1,
        decay_step: 3,
        factor: 0.5,
        second_decay_step: None,
        second_factor: None,
    };
    assert_lrs(&once, &[(2, 0.1), (3, 0.05), (1 << 60, 0.05)]);
}

#[test]
fn sequential_of_three_parts_restarts_each_clock() {
    let warm = S::Linear {
        lr: 1.0,
        start_factor: 0.5,
        end_factor: 1.0,
        total_iters: 2,
    };
    let cos = S::Cosine {
        lr: 1.0,
        t_max: 4,
        eta_min: 0.0,
    };
    let tail = S::Exponential {
        lr: 0.1,
        gamma: 0.5,
    };
    let s = S::Sequential {
        parts: vec![warm, cos, tail],
        milestones: vec![2, 6],
    };
    assert_lrs(
        &s,
        &[
            (0, 0.5),
            (1, 0.75),
            (2, 1.0),
            (4, 0.5),
            (6, 0.1),
            (7, 0.05),
            (8, 0.025),
        ],
    );
    assert_eq!(s.lr_at(5), 0.5 * (1.0 + (PI * 3.0 / 4.0).cos()));
}

#[test]
fn invalid_specs_do_not_panic() {
    let bad = [
        S::Step {
            lr: 0.1,
            step_size: 0,
            gamma: 0.1,
        },
        S::Cosine {
            lr: 0.1,
            t_max: 0,
            eta_min: 0.0,
        },
        S::Linear {
            lr: 0.1,
            start_factor: 0.0,
            end_factor: 0.0,
            total_iters: 0,
        },
        S::Polynomial {
            lr: 0.1,
            power: -1.0,
            total_iters: 0,
        },
        S::CosineWarmRestarts {
            lr: 0.1,
            t_0: 0,
            t_mult: f64::NAN,
            eta_min: 0.0,
        },
        S::CosineWarmRestarts {
            lr: 0.1,
            t_0: 3,
            t_mult: -5.0,
            eta_min: 0.0,
        },
        S::OneCycle {
            max_lr: 0.1,
            total_steps: 0,
            pct_start: 2.0,
            anneal: Anneal::Cos,
            div_factor: 0.0,
            final_div_factor: 0.0,
            three_phase: true,
        },
        S::Wsd {
            lr: 0.1,
            warmup_steps: u64::MAX,
            stable_steps: u64::MAX,
            decay_steps: 0,
            cooldown: Cooldown::Linear,
            floor_lr: -1.0,
        },
        S::Sequential {
            parts: vec![],
            milestones: vec![3, 1],
        },
        S::Sequential {
            parts: vec![S::Constant { lr: 0.1 }],
            milestones: vec![3, 1],
        },
        S::MultiStep {
            lr: 0.1,
            milestones: vec![9, 2, 5],
            gamma: 0.1,
        },
    ];
    for s in &bad {
        for step in [0, 1, 2, 3, 5, 1000, u64::MAX - 1, u64::MAX] {
            let _ = s.lr_at(step);
        }
    }
}
