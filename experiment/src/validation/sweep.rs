//! A sweep's checks: its main run (under `main`), its branches' schedule (under `after`), the
//! decay points and branch length, its seeds, and its schedule-free baseline.

use schedule::{FieldError, Schedule};

use super::report::Report;
use crate::fields::{self, sweep as f};
use crate::limits::{self, MAX_BRANCHES, MAX_SEEDS};
use crate::run::Experiment;
use crate::sweep::SweepSpec;

/// Checks a list of seeds: 1 to `MAX_SEEDS` (counting `existing` ones), none repeated.
pub fn check_seeds(existing: &[u64], more: &[u64], errs: &mut Vec<FieldError>) {
    let mut report = Report::default();
    check_seed_list(existing, more, &mut report);
    errs.extend(report.into_errors());
}

fn check_seed_list(existing: &[u64], more: &[u64], report: &mut Report) {
    let total = existing.len() + more.len();
    if more.is_empty() {
        report.push(fields::SEEDS, "give at least one seed");
    } else if total > MAX_SEEDS {
        report.push(
            fields::SEEDS,
            format!(
                "at most {MAX_SEEDS} seeds in all ({} already, {} more asked)",
                existing.len(),
                more.len()
            ),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in existing.iter().chain(more) {
        if !seen.insert(*s) {
            report.push(fields::SEEDS, format!("seed {s} is given twice"));
            break;
        }
    }
}

impl SweepSpec {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut report = Report::default();
        if let Err(es) = self.main.validate() {
            report.nest(f::MAIN, es);
        }
        if !matches!(self.main.schedule, Schedule::Constant { .. }) {
            report.push(
                &fields::nested(f::MAIN, fields::SCHEDULE),
                "the main path of a sweep keeps a constant LR",
            );
        }
        if let Err(es) = self.after.validate() {
            report.nest(f::AFTER, es);
        }
        self.check_branches(&mut report);
        if !self.seeds.is_empty() {
            check_seed_list(&[], &self.seeds, &mut report);
        }
        if self.schedule_free_baseline {
            self.check_baseline(&mut report);
        }
        report.finish()
    }

    /// Decay points inside the main path, each with a checkpoint to start from, and the
    /// branches' length.
    fn check_branches(&self, report: &mut Report) {
        if self.branch_at.is_empty() || self.branch_at.len() > MAX_BRANCHES {
            report.push(
                f::BRANCH_AT,
                format!("give between 1 and {MAX_BRANCHES} decay points"),
            );
        } else if self.branch_at.windows(2).any(|w| w[0] >= w[1]) {
            report.push(f::BRANCH_AT, "decay points must be strictly increasing");
        } else if self.branch_at[0] < 1
            || self
                .branch_at
                .last()
                .is_some_and(|&k| k > self.main_length())
        {
            report.push(
                f::BRANCH_AT,
                format!("decay points must lie between 1 and {}", self.main_length()),
            );
        }
        if let (Experiment::Net(n), false) = (&self.main.experiment, self.branch_at.is_empty())
            && n.checkpoint_every != 1
        {
            report.push(
                &fields::nested(f::MAIN, fields::net::CHECKPOINT_EVERY),
                "must be 1: branches start from every epoch's checkpoint",
            );
        }
        let max_len = match &self.main.experiment {
            Experiment::Toy(_) => limits::MAX_STEPS,
            Experiment::Net(_) => u64::from(limits::MAX_EPOCHS),
        };
        if self.branch_length < 1 || self.branch_length > max_len {
            report.push(f::BRANCH_LENGTH, format!("must be between 1 and {max_len}"));
        }
    }

    /// A baseline only for networks, and, once the sweep itself is valid, one whose run is.
    fn check_baseline(&self, report: &mut Report) {
        match &self.main.experiment {
            Experiment::Toy(_) => report.push(
                f::SCHEDULE_FREE_BASELINE,
                "a schedule-free baseline is for networks: the toy model trains with plain SGD",
            ),
            Experiment::Net(_) if report.is_empty() => {
                if let Err(es) = self.baseline_for(self.main.seed).validate() {
                    for e in es {
                        report.push(
                            f::SCHEDULE_FREE_BASELINE,
                            format!("the baseline run is invalid: {}: {}", e.field, e.message),
                        );
                    }
                }
            }
            Experiment::Net(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sweeps_name_their_fields() {
        let mut s = SweepSpec::toy_paper();
        s.branch_at = vec![5, 3];
        s.branch_length = 0;
        s.main.schedule = Schedule::Constant { lr: f64::NAN };
        let f: Vec<String> = s
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        for want in ["branch_at", "branch_length", "main.schedule.lr"] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
    }

    #[test]
    fn seed_lists_are_bounded_and_distinct() {
        let mut s = SweepSpec::toy_paper();
        s.seeds = (0..17).collect();
        let f = s.validate().err().unwrap_or_default();
        assert!(
            f.iter()
                .any(|e| e.field == "seeds" && e.message.contains("16")),
            "{f:?}"
        );
        s.seeds = vec![1, 2, 1];
        let f = s.validate().err().unwrap_or_default();
        assert!(
            f.iter()
                .any(|e| e.message.contains("seed 1 is given twice")),
            "{f:?}"
        );
        let mut errs = Vec::new();
        check_seeds(&[0, 1], &[1], &mut errs);
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs.clear();
        check_seeds(&[0, 1], &[], &mut errs);
        assert!(errs[0].message.contains("at least one"), "{errs:?}");
    }
}
