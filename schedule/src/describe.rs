//! Human-facing summaries: the headline LR and a one-line description for legends and labels.

use crate::{Anneal, Cooldown, Schedule};

pub(crate) fn base_lr(s: &Schedule) -> f64 {
    match s {
        Schedule::Constant { lr }
        | Schedule::Step { lr, .. }
        | Schedule::MultiStep { lr, .. }
        | Schedule::Exponential { lr, .. }
        | Schedule::Cosine { lr, .. }
        | Schedule::Linear { lr, .. }
        | Schedule::Polynomial { lr, .. }
        | Schedule::CosineWarmRestarts { lr, .. }
        | Schedule::Wsd { lr, .. }
        | Schedule::DecayAt { lr, .. } => *lr,
        Schedule::OneCycle { max_lr, .. } => *max_lr,
        Schedule::Warmup { inner, .. } => inner.base_lr(),
        // The largest, so that a cap on base_lr bounds every part.
        Schedule::Sequential { parts, .. } => {
            parts.iter().map(Schedule::base_lr).fold(f64::NAN, f64::max)
        }
    }
}

/// Short decimal for ordinary magnitudes, scientific notation for tiny or huge ones.
fn num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || (1e-4..1e6).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

fn steps(n: u64) -> String {
    if n == 1 {
        "1 step".to_owned()
    } else {
        format!("{n} steps")
    }
}

/// Lists up to a handful of step numbers, then elides.
fn step_list(ms: &[u64]) -> String {
    const SHOWN: usize = 5;
    let head: Vec<String> = ms.iter().take(SHOWN).map(u64::to_string).collect();
    if ms.len() > SHOWN {
        format!("{}, … ({} in all)", head.join(", "), ms.len())
    } else {
        head.join(", ")
    }
}

pub(crate) fn describe(s: &Schedule) -> String {
    match s {
        Schedule::Constant { lr } => format!("constant {}", num(*lr)),
        Schedule::Step {
            lr,
            step_size,
            gamma,
        } => {
            format!(
                "step {}, ×{} every {}",
                num(*lr),
                num(*gamma),
                steps(*step_size)
            )
        }
        Schedule::MultiStep {
            lr,
            milestones,
            gamma,
        } => match milestones.as_slice() {
            [] => format!("multistep {}, no milestones", num(*lr)),
            [one] => format!("multistep {}, ×{} at step {one}", num(*lr), num(*gamma)),
            many => format!(
                "multistep {}, ×{} at steps {}",
                num(*lr),
                num(*gamma),
                step_list(many)
            ),
        },
        Schedule::Exponential { lr, gamma } => {
            format!("exponential {}, ×{} per step", num(*lr), num(*gamma))
        }
        Schedule::Cosine { lr, t_max, eta_min } => {
            format!(
                "cosine {} → {} over {}",
                num(*lr),
                num(*eta_min),
                steps(*t_max)
            )
        }
        Schedule::Linear {
            lr,
            start_factor,
            end_factor,
            total_iters,
        } => format!(
            "linear {}, ×{} → ×{} over {}",
            num(*lr),
            num(*start_factor),
            num(*end_factor),
            steps(*total_iters)
        ),
        Schedule::Polynomial {
            lr,
            power,
            total_iters,
        } => {
            format!(
                "polynomial {} → 0, power {}, over {}",
                num(*lr),
                num(*power),
                steps(*total_iters)
            )
        }
        Schedule::OneCycle {
            max_lr,
            total_steps,
            pct_start,
            anneal,
            three_phase,
            ..
        } => format!(
            "one-cycle peaking at {} over {} ({}% rising, {}{})",
            num(*max_lr),
            steps(*total_steps),
            num(pct_start * 100.0),
            match anneal {
                Anneal::Cos => "cosine",
                Anneal::Linear => "linear",
            },
            if *three_phase { ", three-phase" } else { "" }
        ),
        Schedule::CosineWarmRestarts {
            lr,
            t_0,
            t_mult,
            eta_min,
        } => {
            if *t_mult == 1.0 {
                format!(
                    "cosine {} → {}, restarting every {}",
                    num(*lr),
                    num(*eta_min),
                    steps(*t_0)
                )
            } else {
                format!(
                    "cosine {} → {}, restarting after {}, each period ×{}",
                    num(*lr),
                    num(*eta_min),
                    steps(*t_0),
                    num(*t_mult)
                )
            }
        }
        Schedule::Warmup {
            warmup_steps,
            start_factor,
            inner,
        } => format!(
            "warmup {} from ×{}, then {}",
            steps(*warmup_steps),
            num(*start_factor),
            inner.describe()
        ),
        Schedule::Wsd {
            lr,
            warmup_steps,
            stable_steps,
            decay_steps,
            cooldown,
            floor_lr,
        } => format!(
            "WSD {}: warmup {}, stable {}, {} cooldown over {} to {}",
            num(*lr),
            warmup_steps,
            stable_steps,
            match cooldown {
                Cooldown::Linear => "linear",
                Cooldown::Cosine => "cosine",
                Cooldown::OneMinusSqrt => "1−√",
            },
            steps(*decay_steps),
            num(*floor_lr)
        ),
        Schedule::DecayAt {
            lr,
            decay_step,
            factor,
            second_decay_step,
            second_factor,
        } => {
            let mut out = format!(
                "constant {}, ×{} at step {decay_step}",
                num(*lr),
                num(*factor)
            );
            if let (Some(at), Some(f2)) = (second_decay_step, second_factor) {
                out.push_str(&format!(", ×{} at step {at}", num(*f2)));
            }
            out
        }
        Schedule::Sequential { parts, milestones } => {
            const SHOWN: usize = 4;
            let mut out = String::from("sequential: ");
            for (i, part) in parts.iter().take(SHOWN).enumerate() {
                if i > 0 {
                    out.push_str(", then ");
                }
                out.push('(');
                out.push_str(&part.describe());
                out.push(')');
                if let Some(until) = milestones.get(i) {
                    out.push_str(&format!(" until step {until}"));
                }
            }
            if parts.len() > SHOWN {
                out.push_str(&format!(", … ({} parts in all)", parts.len()));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Anneal, Cooldown, Schedule as S};

    #[test]
    fn describes_each_kind_in_one_line() {
        let cases = [
            (S::Constant { lr: 0.1 }, "constant 0.1"),
            (
                S::DecayAt {
                    lr: 0.1,
                    decay_step: 3000,
                    factor: 0.1,
                    second_decay_step: None,
                    second_factor: None,
                },
                "constant 0.1, ×0.1 at step 3000",
            ),
            (
                S::DecayAt {
                    lr: 0.05,
                    decay_step: 1000,
                    factor: 0.1,
                    second_decay_step: Some(5000),
                    second_factor: Some(0.01),
                },
                "constant 0.05, ×0.1 at step 1000, ×0.01 at step 5000",
            ),
            (
                S::Step {
                    lr: 0.1,
                    step_size: 30,
                    gamma: 0.5,
                },
                "step 0.1, ×0.5 every 30 steps",
            ),
            (
                S::MultiStep {
                    lr: 0.1,
                    milestones: vec![5000, 8000],
                    gamma: 0.1,
                },
                "multistep 0.1, ×0.1 at steps 5000, 8000",
            ),
            (
                S::MultiStep {
                    lr: 0.1,
                    milestones: (1..=8).collect(),
                    gamma: 0.1,
                },
                "multistep 0.1, ×0.1 at steps 1, 2, 3, 4, 5, … (8 in all)",
            ),
            (
                S::Exponential {
                    lr: 3e-5,
                    gamma: 0.999,
                },
                "exponential 3e-5, ×0.999 per step",
            ),
            (
                S::Cosine {
                    lr: 0.05,
                    t_max: 10000,
                    eta_min: 0.0,
                },
                "cosine 0.05 → 0 over 10000 steps",
            ),
            (
                S::Linear {
                    lr: 0.05,
                    start_factor: 1.0,
                    end_factor: 0.01,
                    total_iters: 100,
                },
                "linear 0.05, ×1 → ×0.01 over 100 steps",
            ),
            (
                S::Polynomial {
                    lr: 0.05,
                    power: 2.0,
                    total_iters: 100,
                },
                "polynomial 0.05 → 0, power 2, over 100 steps",
            ),
            (
                S::OneCycle {
                    max_lr: 0.05,
                    total_steps: 1000,
                    pct_start: 0.25,
                    anneal: Anneal::Linear,
                    div_factor: 25.0,
                    final_div_factor: 1e4,
                    three_phase: true,
                },
                "one-cycle peaking at 0.05 over 1000 steps (25% rising, linear, three-phase)",
            ),
            (
                S::CosineWarmRestarts {
                    lr: 0.05,
                    t_0: 2000,
                    t_mult: 2.0,
                    eta_min: 0.0,
                },
                "cosine 0.05 → 0, restarting after 2000 steps, each period ×2",
            ),
            (
                S::CosineWarmRestarts {
                    lr: 0.05,
                    t_0: 2000,
                    t_mult: 1.0,
                    eta_min: 0.001,
                },
                "cosine 0.05 → 0.001, restarting every 2000 steps",
            ),
            (
                S::Warmup {
                    warmup_steps: 500,
                    start_factor: 0.1,
                    inner: Box::new(S::Cosine {
                        lr: 0.05,
                        t_max: 10000,
                        eta_min: 0.0,
                    }),
                },
                "warmup 500 steps from ×0.1, then cosine 0.05 → 0 over 10000 steps",
            ),
            (
                S::Wsd {
                    lr: 0.05,
                    warmup_steps: 500,
                    stable_steps: 7000,
                    decay_steps: 2500,
                    cooldown: Cooldown::OneMinusSqrt,
                    floor_lr: 0.0,
                },
                "WSD 0.05: warmup 500, stable 7000, 1−√ cooldown over 2500 steps to 0",
            ),
            (
                S::Sequential {
                    parts: vec![
                        S::Constant { lr: 0.1 },
                        S::Exponential {
                            lr: 0.1,
                            gamma: 0.9,
                        },
                    ],
                    milestones: vec![100],
                },
                "sequential: (constant 0.1) until step 100, then (exponential 0.1, ×0.9 per step)",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(s.describe(), want);
        }
    }

    #[test]
    fn base_lr_is_the_headline() {
        assert_eq!(S::Constant { lr: 0.1 }.base_lr(), 0.1);
        let oc = S::OneCycle {
            max_lr: 0.4,
            total_steps: 10,
            pct_start: 0.3,
            anneal: Anneal::Cos,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        };
        assert_eq!(oc.base_lr(), 0.4);
        let w = S::Warmup {
            warmup_steps: 5,
            start_factor: 0.1,
            inner: Box::new(S::Constant { lr: 0.2 }),
        };
        assert_eq!(w.base_lr(), 0.2);
        let seq = S::Sequential {
            parts: vec![
                S::Constant { lr: 0.1 },
                S::Constant { lr: 0.3 },
                S::Constant { lr: 0.2 },
            ],
            milestones: vec![1, 2],
        };
        assert_eq!(seq.base_lr(), 0.3);
    }
}
