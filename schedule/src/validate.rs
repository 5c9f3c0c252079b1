//! Validation: every problem in a spec, each keyed by its field path, with user-facing messages.
//!
//! Limits on nesting and length exist because specs arrive from browsers: a hostile spec must
//! not make the server or the preview do unbounded work.

use crate::{FieldError, Schedule};

/// Deepest allowed nesting; a top-level schedule is at depth 1.
pub const MAX_DEPTH: usize = 8;
/// Most milestones in one `multi_step` or `sequential`.
pub const MAX_MILESTONES: usize = 1000;
/// Most schedule nodes in one spec, counting every part and inner schedule.
pub const MAX_NODES: usize = 1000;

pub(crate) fn validate(s: &Schedule) -> Result<(), Vec<FieldError>> {
    let mut v = Validator {
        errors: Vec::new(),
        nodes: 0,
        too_many: false,
    };
    v.node(s, "", 1);
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(v.errors)
    }
}

struct Validator {
    errors: Vec<FieldError>,
    nodes: usize,
    /// Set once the node limit is hit, so that it is reported once and checking stops.
    too_many: bool,
}

/// `prefix.name`, or `name` at the top.
fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Validator {
    fn push(&mut self, field: String, message: impl Into<String>) {
        self.errors.push(FieldError {
            field,
            message: message.into(),
        });
    }

    /// Pushes the first failing rule for `name`, so one bad value gets one message; says
    /// whether the value passed.
    fn real(&mut self, prefix: &str, name: &str, v: f64, rules: &[Rule]) -> bool {
        if !v.is_finite() {
            self.push(join(prefix, name), "must be a finite number");
            return false;
        }
        match rules.iter().find(|r| !r.holds(v)) {
            Some(rule) => {
                self.push(join(prefix, name), rule.message());
                false
            }
            None => true,
        }
    }

    fn positive_steps(&mut self, prefix: &str, name: &str, v: u64) {
        if v == 0 {
            self.push(join(prefix, name), "must be > 0");
        }
    }

    fn milestones(&mut self, prefix: &str, ms: &[u64]) {
        if ms.len() > MAX_MILESTONES {
            self.push(
                join(prefix, "milestones"),
                format!("must have at most {MAX_MILESTONES} entries"),
            );
        } else if ms.windows(2).any(|w| w[0] >= w[1]) {
            self.push(
                join(prefix, "milestones"),
                "milestones must be strictly increasing",
            );
        }
    }

    fn node(&mut self, s: &Schedule, p: &str, depth: usize) {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            if !self.too_many {
                self.too_many = true;
                self.push(
                    p.to_owned(),
                    format!("the schedule has too many parts (at most {MAX_NODES} in all)"),
                );
            }
            return;
        }
        use Rule::*;
        match s {
            Schedule::Constant { lr } => {
                self.real(p, "lr", *lr, &[Positive]);
            }
            Schedule::Step {
                lr,
                step_size,
                gamma,
            } => {
                self.real(p, "lr", *lr, &[Positive]);
                self.positive_steps(p, "step_size", *step_size);
                self.real(p, "gamma", *gamma, &[Positive]);
            }
            Schedule::MultiStep {
                lr,
                milestones,
                gamma,
            } => {
                self.real(p, "lr", *lr, &[Positive]);
                self.milestones(p, milestones);
                self.real(p, "gamma", *gamma, &[Positive]);
            }
            Schedule::Exponential { lr, gamma } => {
                self.real(p, "lr", *lr, &[Positive]);
                self.real(p, "gamma", *gamma, &[Positive]);
            }
            Schedule::Cosine { lr, t_max, eta_min } => {
                self.real(p, "lr", *lr, &[Positive]);
                self.positive_steps(p, "t_max", *t_max);
                self.real(p, "eta_min", *eta_min, &[NonNegative]);
            }
            Schedule::Linear {
                lr,
                start_factor,
                end_factor,
                total_iters,
            } => {
                self.real(p, "lr", *lr, &[Positive]);
                // PyTorch's LinearLR bounds; a start of 0 would make its recursion divide by 0.
                self.real(p, "start_factor", *start_factor, &[Positive, AtMostOne]);
                self.real(p, "end_factor", *end_factor, &[NonNegative, AtMostOne]);
                self.positive_steps(p, "total_iters", *total_iters);
            }
            Schedule::Polynomial {
                lr,
                power,
                total_iters,
            } => {
                self.real(p, "lr", *lr, &[Positive]);
                // A negative power would send the LR to infinity at total_iters.
                self.real(p, "power", *power, &[NonNegative]);
                self.positive_steps(p, "total_iters", *total_iters);
            }
            Schedule::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                anneal: _,
                div_factor,
                final_div_factor,
                three_phase,
            } => {
                self.real(p, "max_lr", *max_lr, &[Positive]);
                self.positive_steps(p, "total_steps", *total_steps);
                if *three_phase {
                    // Beyond 0.5 the way back down would end after the cycle does.
                    self.real(
                        p,
                        "pct_start",
                        *pct_start,
                        &[Positive, BelowOne, HalfWithThreePhase],
                    );
                } else {
                    self.real(p, "pct_start", *pct_start, &[Positive, BelowOne]);
                }
                self.real(p, "div_factor", *div_factor, &[Positive]);
                self.real(p, "final_div_factor", *final_div_factor, &[Positive]);
            }
            Schedule::CosineWarmRestarts {
                lr,
                t_0,
                t_mult,
                eta_min,
            } => {
                self.real(p, "lr", *lr, &[Positive]);
                self.positive_steps(p, "t_0", *t_0);
                // PyTorch requires an integer: restarts must fall on whole steps.
                self.real(p, "t_mult", *t_mult, &[AtLeastOne, Whole]);
                self.real(p, "eta_min", *eta_min, &[NonNegative]);
            }
            Schedule::Warmup {
                warmup_steps: _,
                start_factor,
                inner,
            } => {
                self.real(p, "start_factor", *start_factor, &[Positive, AtMostOne]);
                self.child(inner, &join(p, "inner"), depth);
            }
            Schedule::Wsd {
                lr,
                warmup_steps: _,
                stable_steps: _,
                decay_steps,
                cooldown: _,
                floor_lr,
            } => {
                let lr_ok = self.real(p, "lr", *lr, &[Positive]);
                self.positive_steps(p, "decay_steps", *decay_steps);
                if self.real(p, "floor_lr", *floor_lr, &[NonNegative]) && lr_ok && floor_lr > lr {
                    self.push(join(p, "floor_lr"), "must not exceed lr");
                }
            }
            Schedule::DecayAt {
                lr,
                decay_step,
                factor,
                second_decay_step,
                second_factor,
            } => {
                self.real(p, "lr", *lr, &[Positive]);
                self.real(p, "factor", *factor, &[Positive]);
                match (second_decay_step, second_factor) {
                    (None, None) => {}
                    (Some(_), None) => self.push(
                        join(p, "second_factor"),
                        "is required with second_decay_step",
                    ),
                    (None, Some(_)) => self.push(
                        join(p, "second_decay_step"),
                        "is required with second_factor",
                    ),
                    (Some(at), Some(f2)) => {
                        if at <= decay_step {
                            self.push(join(p, "second_decay_step"), "must be after decay_step");
                        }
                        self.real(p, "second_factor", *f2, &[Positive]);
                    }
                }
            }
            Schedule::Sequential { parts, milestones } => {
                if parts.is_empty() {
                    self.push(join(p, "parts"), "must have at least one part");
                } else if parts.len() != milestones.len() + 1 {
                    self.push(
                        join(p, "milestones"),
                        format!(
                            "must have one entry fewer than parts ({} parts need {} milestones, got {})",
                            parts.len(),
                            parts.len() - 1,
                            milestones.len()
                        ),
                    );
                }
                self.milestones(p, milestones);
                for (i, part) in parts.iter().enumerate() {
                    if self.too_many {
                        break;
                    }
                    self.child(part, &join(p, &format!("parts[{i}]")), depth);
                }
            }
        }
    }

    fn child(&mut self, s: &Schedule, path: &str, parent_depth: usize) {
        if parent_depth >= MAX_DEPTH {
            self.push(
                path.to_owned(),
                format!("nesting is too deep (at most {MAX_DEPTH} levels)"),
            );
        } else {
            self.node(s, path, parent_depth + 1);
        }
    }
}

#[derive(Clone, Copy)]
enum Rule {
    Positive,
    NonNegative,
    AtMostOne,
    BelowOne,
    AtLeastOne,
    Whole,
    HalfWithThreePhase,
}

impl Rule {
    fn holds(self, v: f64) -> bool {
        match self {
            Rule::Positive => v > 0.0,
            Rule::NonNegative => v >= 0.0,
            Rule::AtMostOne => v <= 1.0,
            Rule::BelowOne => v < 1.0,
            Rule::AtLeastOne => v >= 1.0,
            Rule::Whole => v.fract() == 0.0,
            Rule::HalfWithThreePhase => v <= 0.5,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Rule::Positive => "must be > 0",
            Rule::NonNegative => "must be ≥ 0",
            Rule::AtMostOne => "must be ≤ 1",
            Rule::BelowOne => "must be < 1",
            Rule::AtLeastOne => "must be ≥ 1",
            Rule::Whole => "must be a whole number",
            Rule::HalfWithThreePhase => "must be ≤ 0.5 with three_phase",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
}
