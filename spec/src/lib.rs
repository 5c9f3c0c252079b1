//! Run specifications: what a user asks Anneal to train, as serde data, with the
//! field-level validation that both the browser form and the server apply.

use schedule::{FieldError, Schedule};
use serde::{Deserialize, Serialize};

/// Upper bounds that keep one request from occupying the machine forever.
pub mod limits {
    pub const MAX_TOY_DIM: u32 = 10_000;
    pub const MAX_TOY_SAMPLES: u32 = 100_000;
    pub const MAX_STEPS: u64 = 10_000_000;
    pub const MAX_BATCH: u32 = 65_536;
    pub const MAX_LR: f64 = 100.0;
    pub const MAX_METRIC_POINTS: u64 = 20_000;
    pub const MAX_NAME_LEN: usize = 200;
}

/// Which compute device a run asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// Burn's pure-Rust `flex` CPU backend (always available).
    #[default]
    Cpu,
    /// burn-cuda; only in binaries built with `--features cuda`.
    Cuda,
}

/// One training run: the experiment, its LR schedule and its seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    #[serde(default)]
    pub name: String,
    pub experiment: Experiment,
    pub schedule: Schedule,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub backend: BackendChoice,
}

/// What is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Experiment {
    /// The paper's nonlinear model y = ‖w‖^γ·wᵀx on Gaussian data.
    Toy(ToySpec),
}

/// The toy model's knobs (DESIGN.md §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToySpec {
    /// Input dimension.
    pub d: u32,
    /// Number of training samples; must be below `d` (overparameterised).
    pub n: u32,
    /// Exponent γ in y = ‖w‖^γ·wᵀx.
    pub gamma: f64,
    /// Standard deviation of the fresh label noise added at every draw.
    pub label_noise: f64,
    pub batch: u32,
    /// Total optimizer steps.
    pub steps: u64,
    /// Scale of the initial weights: w₀ ~ N(0, init_scale²·I/d).
    #[serde(default = "default_init_scale")]
    pub init_scale: f64,
    /// A metric row is recorded every this many steps (0 = choose ~500 points).
    #[serde(default)]
    pub eval_every: u64,
}

fn default_init_scale() -> f64 {
    1.0
}

impl ToySpec {
    /// The paper's label-noise regime (DESIGN.md §2), shortened for a quick look.
    pub fn paper_default() -> Self {
        Self {
            d: 50,
            n: 10,
            gamma: 1.0,
            label_noise: 0.3,
            batch: 1,
            steps: 20_000,
            init_scale: default_init_scale(),
            eval_every: 0,
        }
    }

    /// Steps between metric rows, resolved from `eval_every`.
    pub fn eval_interval(&self) -> u64 {
        if self.eval_every > 0 {
            self.eval_every
        } else {
            (self.steps / 500).max(1)
        }
    }

    /// Optimizer steps in one pass over the `n` samples.
    pub fn steps_per_epoch(&self) -> u64 {
        u64::from(self.n.div_ceil(self.batch.max(1)).max(1))
    }
}

impl RunSpec {
    /// The toy preset the home page starts from.
    pub fn toy_default() -> Self {
        Self {
            name: String::new(),
            experiment: Experiment::Toy(ToySpec::paper_default()),
            schedule: Schedule::Constant { lr: 0.05 },
            seed: 0,
            backend: BackendChoice::Cpu,
        }
    }

    pub fn total_steps(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(t) => t.steps,
        }
    }

    pub fn steps_per_epoch(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(t) => t.steps_per_epoch(),
        }
    }

    /// Every problem with the spec, each tied to the form field it comes from.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Vec::new();
        if self.name.chars().count() > limits::MAX_NAME_LEN {
            errs.push(field("name", format!("must be at most {} characters", limits::MAX_NAME_LEN)));
        }
        match &self.experiment {
            Experiment::Toy(t) => t.check(&mut errs),
        }
        if let Err(schedule_errs) = self.schedule.validate() {
            errs.extend(schedule_errs.into_iter().map(|e| FieldError {
                field: format!("schedule.{}", e.field),
                message: e.message,
            }));
        }
        // The schedule's own checks allow any positive LR; a run also caps it.
        let lr = self.schedule.base_lr();
        if lr.is_finite() && lr > limits::MAX_LR {
            errs.push(field("schedule.lr", format!("must be at most {}", limits::MAX_LR)));
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

impl ToySpec {
    fn check(&self, errs: &mut Vec<FieldError>) {
        let p = "experiment.";
        if self.d < 2 || self.d > limits::MAX_TOY_DIM {
            errs.push(field(&format!("{p}d"), format!("must be between 2 and {}", limits::MAX_TOY_DIM)));
        }
        if self.n < 1 || self.n > limits::MAX_TOY_SAMPLES {
            errs.push(field(&format!("{p}n"), format!("must be between 1 and {}", limits::MAX_TOY_SAMPLES)));
        } else if self.n >= self.d {
            errs.push(field(&format!("{p}n"), "must be smaller than d (the model is overparameterised)".into()));
        }
        finite_in(errs, &format!("{p}gamma"), self.gamma, 0.0, 10.0);
        finite_in(errs, &format!("{p}label_noise"), self.label_noise, 0.0, 100.0);
        finite_in(errs, &format!("{p}init_scale"), self.init_scale, 1e-6, 100.0);
        if self.batch < 1 || self.batch > limits::MAX_BATCH {
            errs.push(field(&format!("{p}batch"), format!("must be between 1 and {}", limits::MAX_BATCH)));
        } else if self.batch > self.n && self.n >= 1 {
            errs.push(field(&format!("{p}batch"), "must not exceed n".into()));
        }
        if self.steps < 1 || self.steps > limits::MAX_STEPS {
            errs.push(field(&format!("{p}steps"), format!("must be between 1 and {}", limits::MAX_STEPS)));
        } else if self.steps / self.eval_interval() > limits::MAX_METRIC_POINTS {
            errs.push(field(
                &format!("{p}eval_every"),
                format!("too small: at most {} metric rows per run", limits::MAX_METRIC_POINTS),
            ));
        }
    }
}

fn field(name: &str, message: String) -> FieldError {
    FieldError { field: name.to_owned(), message }
}

fn finite_in(errs: &mut Vec<FieldError>, name: &str, v: f64, lo: f64, hi: f64) {
    if !v.is_finite() {
        errs.push(field(name, "must be a finite number".into()));
    } else if v < lo || v > hi {
        errs.push(field(name, format!("must be between {lo} and {hi}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(spec: &RunSpec) -> Vec<String> {
        spec.validate().err().unwrap_or_default().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn default_toy_spec_is_valid() {
        assert_eq!(RunSpec::toy_default().validate(), Ok(()));
    }

    #[test]
    fn bad_values_are_reported_per_field() {
        let mut spec = RunSpec::toy_default();
        let Experiment::Toy(t) = &mut spec.experiment;
        t.n = 60; // >= d
        t.gamma = f64::NAN;
        t.batch = 0;
        t.steps = 0;
        spec.schedule = Schedule::Constant { lr: -1.0 };
        let f = fields(&spec);
        for want in ["experiment.n", "experiment.gamma", "experiment.batch", "experiment.steps", "schedule.lr"] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
    }

    #[test]
    fn lr_cap_and_metric_row_cap_apply() {
        let mut spec = RunSpec::toy_default();
        spec.schedule = Schedule::Constant { lr: 1000.0 };
        let Experiment::Toy(t) = &mut spec.experiment;
        t.steps = 1_000_000;
        t.eval_every = 1;
        let f = fields(&spec);
        assert!(f.contains(&"schedule.lr".to_owned()), "{f:?}");
        assert!(f.contains(&"experiment.eval_every".to_owned()), "{f:?}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let json = r#"{"experiment":{"kind":"toy","d":50,"n":10,"gamma":1,"label_noise":0.3,"batch":1,"steps":10,"bogus":1},
                       "schedule":{"kind":"constant","lr":0.05}}"#;
        let err = serde_json::from_str::<RunSpec>(json).expect_err("bogus field must fail");
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn eval_interval_defaults_to_about_500_rows() {
        let t = ToySpec { steps: 20_000, ..ToySpec::paper_default() };
        assert_eq!(t.eval_interval(), 40);
        let t = ToySpec { steps: 10, ..ToySpec::paper_default() };
        assert_eq!(t.eval_interval(), 1);
    }
}
