//! A run's checks: its name, its experiment (in `toy` and `net`), its schedule with the LR cap
//! a run adds, and what the whole run would allocate.

use schedule::FieldError;

use super::report::Report;
use crate::fields;
use crate::limits;
use crate::memory;
use crate::run::{Experiment, RunSpec};

impl RunSpec {
    /// Every problem with the spec, each tied to the form field it comes from.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut report = Report::default();
        if self.name.chars().count() > limits::MAX_NAME_LEN {
            report.push(
                fields::NAME,
                format!("must be at most {} characters", limits::MAX_NAME_LEN),
            );
        }
        match &self.experiment {
            Experiment::Toy(t) => t.check(&mut report),
            Experiment::Net(n) => n.check(&mut report),
        }
        self.check_schedule(&mut report);
        // Each knob may be in range while the model they describe does not fit in memory.
        if report.is_empty() {
            self.check_memory(&mut report);
        }
        // Each knob may be in range while their product is not (a huge decay factor, say):
        // bound the LR the run will actually use, at every step.
        if report.is_empty() {
            self.check_lr_over_the_run(&mut report);
        }
        report.finish()
    }

    fn check_schedule(&self, report: &mut Report) {
        if let Err(schedule_errs) = self.schedule.validate() {
            report.nest(fields::SCHEDULE, schedule_errs);
        }
        // The schedule's own checks allow any positive LR; a run also caps it.
        let lr = self.schedule.base_lr();
        if lr.is_finite() && lr > limits::MAX_LR {
            report.push(
                fields::SCHEDULE_LR,
                format!("must be at most {}", limits::MAX_LR),
            );
        }
    }

    fn check_memory(&self, report: &mut Report) {
        let need = self.planned_bytes();
        if need > memory::MAX_RUN_BYTES {
            report.push(
                self.memory_field(),
                format!(
                    "this run would allocate about {} (weights, gradients, optimizer state, \
                     activations and data); a run may use at most {}, so that one run \
                     cannot take the server down",
                    memory::gib(need),
                    memory::gib(memory::MAX_RUN_BYTES)
                ),
            );
        }
    }

    fn check_lr_over_the_run(&self, report: &mut Report) {
        let peak = self
            .schedule
            .curve(self.total_steps().saturating_sub(1), 4000)
            .into_iter()
            .map(|(_, lr)| lr)
            .find(|lr| !lr.is_finite() || *lr > limits::MAX_LR);
        if let Some(lr) = peak {
            report.push(
                fields::SCHEDULE,
                format!(
                    "the learning rate reaches {lr:e} during the run; it must stay finite and at most {}",
                    limits::MAX_LR
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use schedule::Schedule;

    use super::*;
    use crate::validation::report::error_fields;

    fn fields(spec: &RunSpec) -> Vec<String> {
        error_fields(spec.validate())
    }

    #[test]
    fn default_toy_spec_is_valid() {
        assert_eq!(RunSpec::toy_default().validate(), Ok(()));
    }

    #[test]
    fn the_lr_is_bounded_over_the_whole_run_not_per_knob() {
        let mut spec = RunSpec::toy_default();
        // Every knob passes on its own; their product is not a learning rate.
        spec.schedule = Schedule::DecayAt {
            lr: 0.05,
            decay_step: 100,
            factor: 1.797e308,
            second_decay_step: None,
            second_factor: None,
        };
        assert_eq!(fields(&spec), vec!["schedule"]);
        spec.schedule = Schedule::DecayAt {
            lr: 0.05,
            decay_step: 100,
            factor: 10.0,
            second_decay_step: None,
            second_factor: None,
        };
        assert_eq!(spec.validate(), Ok(()), "0.5 after the decay is fine");
        spec.schedule = Schedule::DecayAt {
            lr: 50.0,
            decay_step: 100,
            factor: 3.0,
            second_decay_step: None,
            second_factor: None,
        };
        assert_eq!(fields(&spec), vec!["schedule"], "150 exceeds the cap");
    }
}
