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
mod tests;
