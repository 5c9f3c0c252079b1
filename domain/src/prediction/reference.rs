//! A single finished run as the schedule editor's reference: each law fitted to all its rows,
//! and checked by a second fit on its head that predicts its tail.

use super::paths::series;
use crate::law::{self, LawKind, LrTrace, Observed};
use crate::metric::Metric;
use crate::wire::{MetricPoint, ReferenceFit, ReferenceLaw, RunStatus, RunSummary};

/// A single run's law is checked by fitting the rows up to this fraction of its steps and
/// predicting the rest.
pub const HOLDOUT_FRACTION: f64 = 0.7;

/// A finished run's laws: fitted on all its rows, and validated by a second fit on the rows up
/// to `HOLDOUT_FRACTION` of its steps that predicts its final test loss.
pub fn run_reference(run: &RunSummary, points: &[MetricPoint]) -> Result<ReferenceLaw, String> {
    if run.status != RunStatus::Completed {
        return Err("the reference must be a finished run".into());
    }
    let total = run.spec.total_steps();
    let lr = LrTrace::from_schedule(&run.spec.schedule, total);
    let test = series(points, Metric::TestLoss);
    let train = series(points, Metric::TrainLoss);
    let Some(&(last_step, last)) = test.last() else {
        return Err("this run has no test loss to fit".into());
    };
    let cut = (total as f64 * HOLDOUT_FRACTION) as u64;
    let head: Vec<(u64, f64)> = test.iter().filter(|p| p.0 <= cut).copied().collect();
    let fits = LawKind::ALL
        .into_iter()
        .map(|law| {
            let one = |pts: &[(u64, f64)]| {
                law::fit(
                    law,
                    &[Observed {
                        lr: &lr,
                        points: pts,
                    }],
                )
            };
            let fit = one(&test);
            let validation_rel_error = one(&head)
                .ok()
                .map(|f| ((f.predict(&lr, &[last_step])[0] - last) / last).abs());
            ReferenceFit {
                law,
                label: law.label().into(),
                formula: law.formula().into(),
                error: fit.as_ref().err().map(ToString::to_string),
                fit: fit.ok(),
                train_fit: (!train.is_empty()).then(|| one(&train).ok()).flatten(),
                validation_rel_error,
                validation: format!(
                    "|error| of the final test loss predicted by a fit on the first {:.0}% of \
                     the run's steps",
                    100.0 * HOLDOUT_FRACTION
                ),
            }
        })
        .collect();
    Ok(ReferenceLaw {
        label: format!("run {} · {}", run.id, run.name),
        total_steps: total,
        steps_per_epoch: run.spec.steps_per_epoch(),
        fits,
    })
}
