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
pub(crate) mod tests;
