//! The LR-schedule language: a serde spec (`Schedule`) evaluated as `lr_at(step)`, shared by the
//! trainer and, compiled to wasm32, by the browser preview so that both draw the same numbers.
//!
//! Every duration is in optimizer steps. `lr_at(step)` follows PyTorch's convention: it is the
//! LR that the optimizer uses for its `step`-th update (0-based), i.e. the LR after `step` calls
//! of `scheduler.step()`. `SPEC.md` documents the format and `PARITY.md` the measured agreement
//! with `torch.optim.lr_scheduler`.

mod curve;
mod describe;
mod eval;
mod validate;

use serde::{Deserialize, Serialize};

pub use validate::{MAX_DEPTH, MAX_MILESTONES, MAX_NODES};

/// A learning-rate schedule. Specs that fail [`Schedule::validate`] still evaluate without
/// panicking, but their values are unspecified (they may be NaN or infinite).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `lr` at every step.
    Constant { lr: f64 },
    /// PyTorch `StepLR`: `lr · gamma^⌊step / step_size⌋`.
    Step { lr: f64, step_size: u64, gamma: f64 },
    /// PyTorch `MultiStepLR`: `lr · gamma^(number of milestones ≤ step)`.
    MultiStep {
        lr: f64,
        milestones: Vec<u64>,
        gamma: f64,
    },
    /// PyTorch `ExponentialLR`: `lr · gamma^step`.
    Exponential { lr: f64, gamma: f64 },
    /// PyTorch `CosineAnnealingLR`. Past `t_max` it keeps following the cosine (rising back to
    /// `lr` at `2·t_max`), as PyTorch's stepped scheduler does.
    Cosine {
        lr: f64,
        t_max: u64,
        #[serde(default)]
        eta_min: f64,
    },
    /// PyTorch `LinearLR`: the factor moves linearly from `start_factor` to `end_factor` over
    /// `total_iters` steps, then stays at `end_factor`.
    Linear {
        lr: f64,
        start_factor: f64,
        end_factor: f64,
        total_iters: u64,
    },
    /// PyTorch `PolynomialLR`: `lr · (1 − min(step, total_iters)/total_iters)^power`.
    Polynomial {
        lr: f64,
        power: f64,
        total_iters: u64,
    },
    /// PyTorch `OneCycleLR` (its LR only; momentum cycling is the optimizer's business).
    OneCycle {
        max_lr: f64,
        total_steps: u64,
        #[serde(default = "defaults::pct_start")]
        pct_start: f64,
        #[serde(default)]
        anneal: Anneal,
        #[serde(default = "defaults::div_factor")]
        div_factor: f64,
        #[serde(default = "defaults::final_div_factor")]
        final_div_factor: f64,
        #[serde(default)]
        three_phase: bool,
    },
    /// PyTorch `CosineAnnealingWarmRestarts`. `t_mult` is a whole number ≥ 1, as in PyTorch; it
    /// is a float in the spec only so that a form sending `2.0` is accepted.
    CosineWarmRestarts {
        lr: f64,
        t_0: u64,
        #[serde(default = "defaults::t_mult")]
        t_mult: f64,
        #[serde(default)]
        eta_min: f64,
    },
    /// Linear warmup from `start_factor · inner.lr_at(0)` to `inner.lr_at(0)` over
    /// `warmup_steps`, then `inner` with its clock starting at the end of the warmup
    /// (`inner.lr_at(step − warmup_steps)`), as timm and Hugging Face do.
    Warmup {
        warmup_steps: u64,
        start_factor: f64,
        inner: Box<Schedule>,
    },
    /// Warmup-stable-decay: `lr · step/warmup_steps` during the warmup (so step 0 has LR 0, as in
    /// Hugging Face's `get_wsd_schedule`), `lr` for `stable_steps`, a cooldown from `lr` to
    /// `floor_lr` over `decay_steps`, then `floor_lr` for ever.
    Wsd {
        lr: f64,
        warmup_steps: u64,
        stable_steps: u64,
        decay_steps: u64,
        cooldown: Cooldown,
        #[serde(default)]
        floor_lr: f64,
    },
    /// `lr`, then `lr · factor` from `decay_step` on, and optionally `lr · second_factor` from
    /// `second_decay_step` on. `second_factor` multiplies `lr`, not the decayed LR: the paper's
    /// ×0.1-then-×0.01 is `factor: 0.1, second_factor: 0.01`.
    DecayAt {
        lr: f64,
        decay_step: u64,
        factor: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        second_decay_step: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        second_factor: Option<f64>,
    },
    /// PyTorch `SequentialLR`: part `i` runs from `milestones[i-1]` (part 0 from step 0) with its
    /// own clock restarted at 0; `parts.len() == milestones.len() + 1`.
    Sequential {
        parts: Vec<Schedule>,
        milestones: Vec<u64>,
    },
}

/// How one-cycle anneals between its phase ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anneal {
    #[default]
    Cos,
    Linear,
}

/// The shape of the WSD cooldown, as a factor going from 1 to 0 over progress p ∈ [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cooldown {
    /// `1 − p`
    Linear,
    /// `(1 + cos(πp)) / 2`
    Cosine,
    /// `1 − √p` (Hägele et al., 2024)
    OneMinusSqrt,
}

/// One problem with a spec, keyed by the path of the offending field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// A path into the spec: `gamma`, `milestones`, `inner.lr`, `parts[1].t_max`.
    pub field: String,
    /// User-facing, e.g. "must be > 0".
    pub message: String,
}

/// `field: message`, the one way a problem is written on a line of text (terminals, logs,
/// one-line summaries in the browser).
impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A step expressed in epochs, for axes and labels. `steps_per_epoch == 0` is treated as 1 so
/// that a half-filled form never yields NaN or infinity.
pub fn steps_to_epochs(step: u64, steps_per_epoch: u64) -> f64 {
    step as f64 / steps_per_epoch.max(1) as f64
}

impl Schedule {
    /// The LR for optimizer step `step` (0-based). Never panics, O(log n) in the number of
    /// milestones or parts.
    pub fn lr_at(&self, step: u64) -> f64 {
        eval::lr_at(self, step)
    }

    /// Every problem with the spec (not just the first), with field paths.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        validate::validate(self)
    }

    /// The headline LR for labels and caps: `lr` for most kinds, `max_lr` for one-cycle, the
    /// inner one for warmup, and the largest of the parts' for sequential.
    pub fn base_lr(&self) -> f64 {
        describe::base_lr(self)
    }

    /// Points `(step, lr)` over steps `0..=total_steps` for a preview. When there are more steps
    /// than `max_points`, steps are bucketed and each bucket keeps its minimum, its maximum and
    /// its last value, so restarts and spikes survive; step 0 and `total_steps` are always there.
    pub fn curve(&self, total_steps: u64, max_points: usize) -> Vec<(u64, f64)> {
        curve::curve(self, total_steps, max_points)
    }

    /// A one-line human summary, e.g. "constant 0.1, ×0.1 at step 3000".
    pub fn describe(&self) -> String {
        describe::describe(self)
    }
}

/// PyTorch's defaults for the optional knobs.
mod defaults {
    pub fn pct_start() -> f64 {
        0.3
    }
    pub fn div_factor() -> f64 {
        25.0
    }
    pub fn final_div_factor() -> f64 {
        1e4
    }
    pub fn t_mult() -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Schedule, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_round_trips_through_json() {
        for s in validate::tests::valid_examples() {
            let json = serde_json::to_string(&s).expect("serializes");
            assert_eq!(parse(&json), Ok(s.clone()), "{json}");
        }
    }

    #[test]
    fn json_uses_snake_case_kinds_and_fields() {
        let json = r#"{"kind":"cosine_warm_restarts","lr":0.1,"t_0":10,"t_mult":2,"eta_min":0}"#;
        assert_eq!(
            parse(json),
            Ok(Schedule::CosineWarmRestarts {
                lr: 0.1,
                t_0: 10,
                t_mult: 2.0,
                eta_min: 0.0
            })
        );
        let json = r#"{"kind":"wsd","lr":1,"warmup_steps":1,"stable_steps":2,"decay_steps":3,"cooldown":"one_minus_sqrt"}"#;
        assert_eq!(
            parse(json),
            Ok(Schedule::Wsd {
                lr: 1.0,
                warmup_steps: 1,
                stable_steps: 2,
                decay_steps: 3,
                cooldown: Cooldown::OneMinusSqrt,
                floor_lr: 0.0
            })
        );
        let s = Schedule::DecayAt {
            lr: 0.1,
            decay_step: 3,
            factor: 0.1,
            second_decay_step: None,
            second_factor: None,
        };
        // TOML has no null, so absent options are left out rather than written as null.
        assert_eq!(
            serde_json::to_string(&s).expect("serializes"),
            r#"{"kind":"decay_at","lr":0.1,"decay_step":3,"factor":0.1}"#
        );
    }

    #[test]
    fn optional_knobs_take_pytorch_defaults() {
        let s = parse(r#"{"kind":"one_cycle","max_lr":0.1,"total_steps":100}"#).expect("parses");
        assert_eq!(
            s,
            Schedule::OneCycle {
                max_lr: 0.1,
                total_steps: 100,
                pct_start: 0.3,
                anneal: Anneal::Cos,
                div_factor: 25.0,
                final_div_factor: 1e4,
                three_phase: false
            }
        );
        let s = parse(r#"{"kind":"cosine_warm_restarts","lr":0.1,"t_0":10}"#).expect("parses");
        assert_eq!(
            s,
            Schedule::CosineWarmRestarts {
                lr: 0.1,
                t_0: 10,
                t_mult: 1.0,
                eta_min: 0.0
            }
        );
    }

    #[test]
    fn malformed_specs_are_rejected() {
        for bad in [
            r#"{"kind":"constant","lr":0.1,"extra":1}"#,
            r#"{"kind":"constant"}"#,
            r#"{"lr":0.1}"#,
            r#"{"kind":"cosine_annealing","lr":0.1}"#,
            r#"{"kind":"step","lr":0.1,"step_size":-3,"gamma":0.1}"#,
            r#"{"kind":"one_cycle","max_lr":0.1,"total_steps":10,"anneal":"exp"}"#,
            r#"{"kind":"warmup","warmup_steps":5,"start_factor":0.1,"inner":{"kind":"constant","lr":0.1,"x":0}}"#,
        ] {
            assert!(parse(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn hostile_nesting_is_refused_by_the_parser_without_overflowing() {
        let depth = 10_000;
        let json = format!(
            "{}{}{}",
            r#"{"kind":"warmup","warmup_steps":1,"start_factor":1,"inner":"#.repeat(depth),
            r#"{"kind":"constant","lr":0.1}"#,
            "}".repeat(depth)
        );
        assert!(parse(&json).is_err());
    }

    #[test]
    fn steps_to_epochs_never_divides_by_zero() {
        assert_eq!(steps_to_epochs(150, 100), 1.5);
        assert_eq!(steps_to_epochs(150, 0), 150.0);
    }
}
