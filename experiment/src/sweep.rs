//! Sweeps: the paper's experiment of a main run at a constant LR and branches that decay from
//! it, the runs a sweep expands to, and the decay-point and seed lists the form takes.

use schedule::Schedule;
use serde::{Deserialize, Serialize};

use crate::run::{Experiment, RunSpec};

/// The paper's experiment: a main run at a constant LR, and branches that keep its trajectory
/// up to a decay point k and continue from there with another schedule for a fixed length.
/// Points and lengths are in steps for the toy model and in epochs for networks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    #[serde(default)]
    pub name: String,
    /// The main path; its schedule must be `constant`.
    pub main: RunSpec,
    /// Decay points k₁ < k₂ < … (steps for the toy model, epochs for networks).
    pub branch_at: Vec<u64>,
    /// The schedule each branch follows after its decay point; its clock starts at k.
    pub after: Schedule,
    /// How long each branch runs after its decay point (same unit as `branch_at`).
    pub branch_length: u64,
    /// Training seeds, each with its own main path and branches on the same data (the main
    /// run's data seed). Empty means the main run's seed alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// Per seed, one more run without any decay: the main path's optimizer as its
    /// schedule-free counterpart (Defazio et al. 2024), at the main path's constant LR, for as
    /// long as the longest branch. Networks only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub schedule_free_baseline: bool,
}

/// Whole numbers (decay points, seeds) as a list ("5, 15, 30") and/or ranges ("10:60:10" =
/// 10, 20, …, 60), as the form and the command line take them.
pub fn parse_points(text: &str) -> Result<Vec<u64>, String> {
    let bad = || "give whole numbers separated by commas, or a range start:stop:step".to_owned();
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let nums: Vec<u64> = part
            .split(':')
            .map(|n| n.trim().parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match nums[..] {
            [k] => out.push(k),
            [a, b, step] if step > 0 && a <= b && (b - a) / step < 1000 => {
                out.extend((a..=b).step_by(step as usize))
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

impl SweepSpec {
    /// Steps per unit of `branch_at`: 1 for the toy model, steps per epoch for networks.
    pub fn unit_steps(&self) -> u64 {
        match &self.main.experiment {
            Experiment::Toy(_) => 1,
            Experiment::Net(n) => n.steps_per_epoch(),
        }
    }

    /// Length of the main path, in the unit of `branch_at`.
    pub fn main_length(&self) -> u64 {
        match &self.main.experiment {
            Experiment::Toy(t) => t.steps,
            Experiment::Net(n) => u64::from(n.epochs),
        }
    }

    /// The seeds this sweep trains: `seeds`, or the main run's seed alone.
    pub fn seeds(&self) -> Vec<u64> {
        if self.seeds.is_empty() {
            vec![self.main.seed]
        } else {
            self.seeds.clone()
        }
    }

    /// The main path trained under `seed`, on the main run's data.
    pub fn main_for(&self, seed: u64) -> RunSpec {
        let mut spec = self.main.replicate(seed);
        spec.name = format!("{}{} · main", self.name, self.seed_label(seed));
        spec
    }

    /// " · seed s" for a replicate, nothing for the main run's own seed (names stay as they were).
    fn seed_label(&self, seed: u64) -> String {
        if seed == self.main.seed {
            String::new()
        } else {
            format!(" · seed {seed}")
        }
    }

    /// The branch that decays at `k` under the main run's seed.
    pub fn branch(&self, k: u64) -> RunSpec {
        self.branch_for(self.main.seed, k)
    }

    /// The run spec of the branch that decays at `k` (in the unit of `branch_at`) under `seed`.
    pub fn branch_for(&self, seed: u64, k: u64) -> RunSpec {
        let mut spec = self.main.replicate(seed);
        spec.name = format!("{}{} · decay at {k}", self.name, self.seed_label(seed));
        spec.schedule = Schedule::Sequential {
            parts: vec![self.main.schedule.clone(), self.after.clone()],
            milestones: vec![k * self.unit_steps()],
        };
        let total = k + self.branch_length;
        match &mut spec.experiment {
            Experiment::Toy(t) => {
                t.steps = total;
                t.eval_every = self.main_eval_every();
            }
            Experiment::Net(n) => n.epochs = u32::try_from(total).unwrap_or(u32::MAX),
        }
        spec
    }

    /// Length of the schedule-free baseline (and of the longest branch), in the sweep's unit.
    pub fn baseline_length(&self) -> u64 {
        self.branch_at.iter().max().copied().unwrap_or(0) + self.branch_length
    }

    /// The schedule-free baseline of `seed`: the main path with the schedule-free counterpart
    /// of its optimizer, as long as the longest branch.
    pub fn baseline_for(&self, seed: u64) -> RunSpec {
        let mut spec = self.main.replicate(seed);
        spec.name = format!("{}{} · schedule-free", self.name, self.seed_label(seed));
        let total = self.baseline_length();
        match &mut spec.experiment {
            Experiment::Toy(t) => t.steps = total,
            Experiment::Net(n) => {
                n.optimizer = n.optimizer.schedule_free_counterpart();
                n.epochs = u32::try_from(total).unwrap_or(u32::MAX);
                // Nothing branches from it.
                n.checkpoint_every = 1;
            }
        }
        spec
    }

    /// Toy branches record rows at the main path's interval so curves line up.
    fn main_eval_every(&self) -> u64 {
        match &self.main.experiment {
            Experiment::Toy(t) => t.eval_interval(),
            Experiment::Net(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicates_share_the_data_and_differ_in_training_noise() {
        let mut s = SweepSpec::toy_paper();
        s.main.seed = 7;
        s.seeds = vec![7, 1, 2];
        assert_eq!(s.validate(), Ok(()));
        // The main run's own seed keeps its spec (and its name) as before replicates.
        assert_eq!(s.branch_for(7, 5_000), s.branch(5_000));
        assert_eq!(s.main_for(7).data_seed, None);
        let b = s.branch_for(2, 5_000);
        assert_eq!((b.seed, b.data_seed(), b.data_seed), (2, 7, Some(7)));
        assert!(b.name.contains("seed 2"), "{}", b.name);
        assert_eq!(b.schedule, s.branch(5_000).schedule);
        // Serialised, a one-seed sweep and a plain run read as they always did.
        let plain = serde_json::to_string(&SweepSpec::toy_paper()).unwrap_or_default();
        assert!(
            !plain.contains("seeds") && !plain.contains("data_seed"),
            "{plain}"
        );
    }
}
