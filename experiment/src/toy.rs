//! The toy model's knobs (DESIGN.md §2): the paper's y = ‖w‖^γ·wᵀx on Gaussian data.

use serde::{Deserialize, Serialize};

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

pub(crate) fn default_init_scale() -> f64 {
    1.0
}

impl ToySpec {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_interval_defaults_to_about_500_rows() {
        let t = ToySpec {
            steps: 20_000,
            ..ToySpec::paper_default()
        };
        assert_eq!(t.eval_interval(), 40);
        let t = ToySpec {
            steps: 10,
            ..ToySpec::paper_default()
        };
        assert_eq!(t.eval_interval(), 1);
    }
}
