//! Evaluation: `lr_at(step)` for every primitive, in closed form.
//!
//! Where PyTorch has a closed form (`_get_closed_form_lr`) we use its exact expression and
//! operation order, so results agree to the last few bits; PyTorch's stepped (chained) values
//! differ from those only by accumulated rounding, which `PARITY.md` measures. Arithmetic is
//! saturating or checked throughout: an unvalidated spec must still never panic.

use core::f64::consts::PI;

use crate::{Anneal, Cooldown, Schedule};

pub(crate) fn lr_at(s: &Schedule, step: u64) -> f64 {
    match s {
        Schedule::Constant { lr } => *lr,
        Schedule::Step {
            lr,
            step_size,
            gamma,
        } => {
            // A zero step_size is invalid; dividing by it must not panic, so it counts as never.
            let k = step.checked_div(*step_size).unwrap_or(0);
            lr * gamma.powf(k as f64)
        }
        Schedule::MultiStep {
            lr,
            milestones,
            gamma,
        } => {
            // bisect_right, as in PyTorch's closed form: a milestone equal to `step` has fired.
            let k = milestones.partition_point(|&m| m <= step);
            lr * gamma.powf(k as f64)
        }
        Schedule::Exponential { lr, gamma } => lr * gamma.powf(step as f64),
        Schedule::Cosine { lr, t_max, eta_min } => cosine(*lr, *t_max, *eta_min, step),
        Schedule::Linear {
            lr,
            start_factor,
            end_factor,
            total_iters,
        } => {
            let t = step.min(*total_iters) as f64;
            lr * (start_factor + (end_factor - start_factor) * t / *total_iters as f64)
        }
        Schedule::Polynomial {
            lr,
            power,
            total_iters,
        } => {
            let t = step.min(*total_iters) as f64;
            lr * (1.0 - t / *total_iters as f64).powf(*power)
        }
        Schedule::OneCycle {
            max_lr,
            total_steps,
            pct_start,
            anneal,
            div_factor,
            final_div_factor,
            three_phase,
        } => one_cycle(
            &OneCycle {
                max_lr: *max_lr,
                total_steps: *total_steps,
                pct_start: *pct_start,
                anneal: *anneal,
                div_factor: *div_factor,
                final_div_factor: *final_div_factor,
                three_phase: *three_phase,
            },
            step,
        ),
        Schedule::CosineWarmRestarts {
            lr,
            t_0,
            t_mult,
            eta_min,
        } => {
            let (t_cur, t_i) = restart_position(*t_0, *t_mult, step);
            eta_min + (lr - eta_min) * (1.0 + (PI * t_cur / t_i).cos()) / 2.0
        }
        Schedule::Warmup {
            warmup_steps,
            start_factor,
            inner,
        } => {
            if step < *warmup_steps {
                let target = inner.lr_at(0);
                // LinearLR's closed form with end_factor 1, aimed at inner's first value so that
                // the hand-over at `warmup_steps` has no jump.
                target * (start_factor + (1.0 - start_factor) * step as f64 / *warmup_steps as f64)
            } else {
                inner.lr_at(step - warmup_steps)
            }
        }
        Schedule::Wsd {
            lr,
            warmup_steps,
            stable_steps,
            decay_steps,
            cooldown,
            floor_lr,
        } => {
            let stable_from = *warmup_steps;
            let decay_from = stable_from.saturating_add(*stable_steps);
            let floor_from = decay_from.saturating_add(*decay_steps);
            if step < stable_from {
                lr * (step as f64 / stable_from as f64)
            } else if step < decay_from {
                *lr
            } else if step < floor_from {
                let p = (step - decay_from) as f64 / *decay_steps as f64;
                let f = match cooldown {
                    Cooldown::Linear => 1.0 - p,
                    Cooldown::Cosine => 0.5 * (1.0 + (PI * p).cos()),
                    Cooldown::OneMinusSqrt => 1.0 - p.sqrt(),
                };
                floor_lr + (lr - floor_lr) * f
            } else {
                *floor_lr
            }
        }
        Schedule::DecayAt {
            lr,
            decay_step,
            factor,
            second_decay_step,
            second_factor,
        } => match (second_decay_step, second_factor) {
            (Some(at), Some(f2)) if step >= *at => lr * f2,
            _ if step >= *decay_step => lr * factor,
            _ => *lr,
        },
        Schedule::Sequential { parts, milestones } => {
            let i = milestones.partition_point(|&m| m <= step);
            let start = i
                .checked_sub(1)
                .and_then(|j| milestones.get(j))
                .copied()
                .unwrap_or(0);
            // A length mismatch is invalid; falling back to the last part keeps this total.
            match parts.get(i).or(parts.last()) {
                Some(part) => part.lr_at(step.saturating_sub(start)),
                None => f64::NAN,
            }
        }
    }
}

/// PyTorch's closed form. The stepped scheduler's recursion reproduces it, including the rise
/// after `t_max` (period `2·t_max`); reducing the step modulo that period first keeps huge steps
/// accurate and changes nothing for `step ≤ 2·t_max`.
fn cosine(lr: f64, t_max: u64, eta_min: f64, step: u64) -> f64 {
    let t = match t_max.checked_mul(2) {
        Some(0) | None => step,
        Some(period) => step % period,
    };
    eta_min + (lr - eta_min) * (1.0 + (PI * t as f64 / t_max as f64).cos()) / 2.0
}

struct OneCycle {
    max_lr: f64,
    total_steps: u64,
    pct_start: f64,
    anneal: Anneal,
    div_factor: f64,
    final_div_factor: f64,
    three_phase: bool,
}

/// A transcription of `OneCycleLR.get_lr` (same phase ends, same float expressions). Two
/// deliberate differences: from `total_steps` on it holds the final LR (PyTorch extrapolates at
/// `total_steps` and raises after it), and a zero-length phase yields its end LR where PyTorch
/// divides by zero.
fn one_cycle(c: &OneCycle, step: u64) -> f64 {
    let initial = c.max_lr / c.div_factor;
    let min = initial / c.final_div_factor;
    if step >= c.total_steps {
        return min;
    }
    let total = c.total_steps as f64;
    let last = (c.total_steps - 1) as f64;
    let first_end = c.pct_start * total - 1.0;
    let three = [
        (first_end, initial, c.max_lr),
        (2.0 * c.pct_start * total - 2.0, c.max_lr, initial),
        (last, initial, min),
    ];
    let two = [(first_end, initial, c.max_lr), (last, c.max_lr, min)];
    let phases: &[(f64, f64, f64)] = if c.three_phase { &three } else { &two };

    let t = step as f64;
    let mut start = 0.0;
    for (i, &(end, from, to)) in phases.iter().enumerate() {
        if t <= end || i + 1 == phases.len() {
            let span = end - start;
            let pct = if span == 0.0 { 1.0 } else { (t - start) / span };
            return match c.anneal {
                Anneal::Cos => {
                    let cos_out = (PI * pct).cos() + 1.0;
                    to + (from - to) / 2.0 * cos_out
                }
                Anneal::Linear => (to - from) * pct + from,
            };
        }
        start = end;
    }
    min
}

/// `(T_cur, T_i)` of PyTorch's `CosineAnnealingWarmRestarts` after `step` steps, as floats.
///
/// PyTorch steps these counters one by one; its closed form (`step(epoch)`) takes the cycle
/// index from a logarithm, which can land one cycle off at exact restart steps. Here the
/// logarithm only gives a first guess, which integer arithmetic then corrects, so restarts fall
/// exactly where the stepped scheduler puts them, in O(1).
fn restart_position(t_0: u64, t_mult: f64, step: u64) -> (f64, f64) {
    if t_0 == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = if t_mult.is_finite() && t_mult >= 2.0 {
        t_mult as u64
    } else {
        1
    };
    if m == 1 {
        return ((step % t_0) as f64, t_0 as f64);
    }
    let (t0, m, t) = (u128::from(t_0), u128::from(m), u128::from(step));
    // First step of cycle n: t0·(1 + m + … + m^(n-1)); None once it no longer fits.
    let cycle_start =
        |n: u32| -> Option<u128> { m.checked_pow(n).map(|p| (p - 1) / (m - 1))?.checked_mul(t0) };
    let guess = ((t as f64 / t0 as f64) * (m - 1) as f64 + 1.0).ln() / (m as f64).ln();
    // `as` saturates (and maps NaN to 0); 127 cycles exceed any u64 step for m ≥ 2.
    let mut n = (guess.floor() as u32).min(127);
    while n > 0 && cycle_start(n).is_none_or(|s| s > t) {
        n -= 1;
    }
    while cycle_start(n + 1).is_some_and(|s| s <= t) {
        n += 1;
    }
    let t_cur = t - cycle_start(n).unwrap_or(0);
    let t_i = m
        .checked_pow(n)
        .and_then(|p| p.checked_mul(t0))
        .map_or_else(|| t0 as f64 * (m as f64).powi(n as i32), |v| v as f64);
    (t_cur as f64, t_i)
}

#[cfg(test)]
mod tests {
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
}
