//! One training run: what is trained (a toy model or a network), under which LR schedule,
//! seeds and compute device.

use schedule::Schedule;
use serde::{Deserialize, Serialize};

use crate::net::NetSpec;
use crate::toy::ToySpec;

/// Which compute device a run asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// Burn's pure-Rust `flex` CPU backend (always available).
    #[default]
    Cpu,
    /// burn-cuda on the first GPU; only in binaries built with `--features cuda`, on a machine
    /// with an NVIDIA driver and a device.
    Cuda,
    /// Burn's wgpu backend (Vulkan, Metal, or Mesa's software Vulkan); only in binaries built
    /// with `--features wgpu`.
    Wgpu,
    /// CUDA when this binary has it and the machine has a GPU, the CPU otherwise.
    Auto,
}

impl BackendChoice {
    pub const ALL: [BackendChoice; 4] = [Self::Cpu, Self::Cuda, Self::Wgpu, Self::Auto];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Wgpu => "wgpu",
            Self::Auto => "auto",
        }
    }
}

/// One training run: the experiment, its LR schedule and its seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    #[serde(default)]
    pub name: String,
    pub experiment: Experiment,
    pub schedule: Schedule,
    /// Drives the initialisation, the data order, augmentation and dropout.
    #[serde(default)]
    pub seed: u64,
    /// Draws the data itself: the training subset of a network, the toy model's samples and
    /// label noise. Absent means `seed`, as runs before replicates had it; replicates of a
    /// sweep share their main run's, so that they differ only in training noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    #[serde(default)]
    pub backend: BackendChoice,
}

/// What is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Experiment {
    /// The paper's nonlinear model y = ‖w‖^γ·wᵀx on Gaussian data.
    Toy(ToySpec),
    /// A network on an image dataset.
    Net(NetSpec),
}

impl RunSpec {
    /// The seed that draws the data (see `data_seed`).
    pub fn data_seed(&self) -> u64 {
        self.data_seed.unwrap_or(self.seed)
    }

    /// The same run under another training seed, on the same data.
    pub fn replicate(&self, seed: u64) -> Self {
        let mut spec = self.clone();
        if seed != self.seed {
            spec.data_seed = Some(self.data_seed());
            spec.seed = seed;
        }
        spec
    }

    pub fn total_steps(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(t) => t.steps,
            Experiment::Net(n) => u64::from(n.epochs) * n.steps_per_epoch(),
        }
    }

    pub fn steps_per_epoch(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(t) => t.steps_per_epoch(),
            Experiment::Net(n) => n.steps_per_epoch(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected() {
        let json = r#"{"experiment":{"kind":"toy","d":50,"n":10,"gamma":1,"label_noise":0.3,"batch":1,"steps":10,"bogus":1},
                       "schedule":{"kind":"constant","lr":0.05}}"#;
        let err = serde_json::from_str::<RunSpec>(json).expect_err("bogus field must fail");
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
