//! Sweeps on the wire: a sweep with its runs (main paths, branches, baselines), and the
//! requests and answers that create, extend and list them.

use serde::{Deserialize, Serialize};

use super::runs::RunSummary;

/// How charts and tables name a sweep's schedule-free baseline.
pub const BASELINE_LABEL: &str = "schedule-free";

/// One run of a sweep: the main path (`branch_at` None) or the branch that decays at k.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRun {
    pub branch_at: Option<u64>,
    /// The replicate's training seed (its run spec's `seed`).
    #[serde(default)]
    pub seed: u64,
    /// The seed's schedule-free baseline (no decay; `branch_at` is None).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline: bool,
    pub run: RunSummary,
}

impl SweepRun {
    /// Whether it plays `role` (None = the main path, Some(k) = the branch decaying at k); a
    /// baseline plays neither.
    pub fn plays(&self, role: Option<u64>) -> bool {
        !self.baseline && self.branch_at == role
    }

    /// "main", "decay @ k" or "schedule-free".
    pub fn label(&self) -> String {
        if self.baseline {
            BASELINE_LABEL.into()
        } else {
            SweepSummary::role_label(self.branch_at)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub id: i64,
    pub name: String,
    pub spec: experiment::SweepSpec,
    pub created_at_ms: i64,
    /// Per seed, in the order seeds were added: its main run, then its branches in order of k.
    pub runs: Vec<SweepRun>,
}

impl SweepSummary {
    /// What `branch_at` counts: steps for the toy model, epochs for networks.
    pub fn unit(&self) -> &'static str {
        match self.spec.main.experiment {
            experiment::Experiment::Toy(_) => "step",
            experiment::Experiment::Net(_) => "epoch",
        }
    }

    /// The sweep's seeds, in the order they were added.
    pub fn seeds(&self) -> Vec<u64> {
        let mut seeds: Vec<u64> = Vec::new();
        for r in &self.runs {
            if !seeds.contains(&r.seed) {
                seeds.push(r.seed);
            }
        }
        seeds
    }

    /// The roles of its runs, main path first: None for the main path, Some(k) for each
    /// decay point, in order of k.
    pub fn roles(&self) -> Vec<Option<u64>> {
        let mut ks: Vec<u64> = self.runs.iter().filter_map(|r| r.branch_at).collect();
        ks.sort_unstable();
        ks.dedup();
        std::iter::once(None)
            .chain(ks.into_iter().map(Some))
            .collect()
    }

    /// A role as charts name it: "main" or "decay @ k".
    pub fn role_label(role: Option<u64>) -> String {
        role.map_or("main".into(), |k| format!("decay @ {k}"))
    }

    /// The main run of `seed`.
    pub fn main_of(&self, seed: u64) -> Option<&SweepRun> {
        self.runs.iter().find(|r| r.seed == seed && r.plays(None))
    }

    /// The decay point of `run_id`; None for the main run (or a run not in this sweep).
    pub fn branch_at(&self, run_id: i64) -> Option<u64> {
        self.runs
            .iter()
            .find(|r| r.run.id == run_id)
            .and_then(|r| r.branch_at)
    }

    /// The step a run's own path starts at: its branch point, 0 for the main run.
    pub fn branch_from_step(&self, run_id: i64) -> u64 {
        self.branch_at(run_id)
            .map_or(0, |k| k * self.spec.unit_steps())
    }
}

/// A queued sweep: its id and its runs, main run first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepCreated {
    pub id: i64,
    pub runs: Vec<i64>,
}

/// More seeds for a finished (or running) sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSeeds {
    pub seeds: Vec<u64>,
}

/// A sweep as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepItem {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
}
