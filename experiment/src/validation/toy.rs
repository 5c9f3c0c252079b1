//! The toy model's checks: dimensions, noise and length, and a metric-row count the store can
//! hold.

use super::report::Report;
use crate::fields::toy as f;
use crate::limits;
use crate::toy::ToySpec;

impl ToySpec {
    pub(crate) fn check(&self, report: &mut Report) {
        if self.d < 2 || self.d > limits::MAX_TOY_DIM {
            report.push(
                f::D,
                format!("must be between 2 and {}", limits::MAX_TOY_DIM),
            );
        }
        if self.n < 1 || self.n > limits::MAX_TOY_SAMPLES {
            report.push(
                f::N,
                format!("must be between 1 and {}", limits::MAX_TOY_SAMPLES),
            );
        } else if self.n >= self.d {
            report.push(
                f::N,
                "must be smaller than d (the model is overparameterised)",
            );
        }
        report.finite_in(f::GAMMA, self.gamma, 0.0, 10.0);
        report.finite_in(f::LABEL_NOISE, self.label_noise, 0.0, 100.0);
        report.finite_in(f::INIT_SCALE, self.init_scale, 1e-6, 100.0);
        if self.batch < 1 || self.batch > limits::MAX_BATCH {
            report.push(
                f::BATCH,
                format!("must be between 1 and {}", limits::MAX_BATCH),
            );
        } else if self.batch > self.n && self.n >= 1 {
            report.push(f::BATCH, "must not exceed n");
        }
        if self.steps < 1 || self.steps > limits::MAX_STEPS {
            report.push(
                f::STEPS,
                format!("must be between 1 and {}", limits::MAX_STEPS),
            );
        } else if self.steps / self.eval_interval() > limits::MAX_METRIC_POINTS {
            report.push(
                f::EVAL_EVERY,
                format!(
                    "too small: at most {} metric rows per run",
                    limits::MAX_METRIC_POINTS
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use schedule::Schedule;

    use crate::run::{Experiment, RunSpec};
    use crate::validation::report::error_fields;

    fn fields(spec: &RunSpec) -> Vec<String> {
        error_fields(spec.validate())
    }

    #[test]
    fn bad_values_are_reported_per_field() {
        let mut spec = RunSpec::toy_default();
        let Experiment::Toy(t) = &mut spec.experiment else {
            unreachable!()
        };
        t.n = 60; // >= d
        t.gamma = f64::NAN;
        t.batch = 0;
        t.steps = 0;
        spec.schedule = Schedule::Constant { lr: -1.0 };
        let f = fields(&spec);
        for want in [
            "experiment.n",
            "experiment.gamma",
            "experiment.batch",
            "experiment.steps",
            "schedule.lr",
        ] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
    }

    #[test]
    fn lr_cap_and_metric_row_cap_apply() {
        let mut spec = RunSpec::toy_default();
        spec.schedule = Schedule::Constant { lr: 1000.0 };
        let Experiment::Toy(t) = &mut spec.experiment else {
            unreachable!()
        };
        t.steps = 1_000_000;
        t.eval_every = 1;
        let f = fields(&spec);
        assert!(f.contains(&"schedule.lr".to_owned()), "{f:?}");
        assert!(f.contains(&"experiment.eval_every".to_owned()), "{f:?}");
    }
}
