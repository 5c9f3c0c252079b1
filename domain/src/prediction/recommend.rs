//! The decay point a fitted law recommends when the whole budget is fixed.

use schedule::Schedule;

use crate::law::{LawFit, LrTrace};
use crate::wire::{Recommendation, SweepSummary};

/// The schedule of a path that decays at `k` (sweep unit) and ends at `budget`.
fn decayed_at(sweep: &SweepSummary, k: u64) -> Schedule {
    Schedule::Sequential {
        parts: vec![sweep.spec.main.schedule.clone(), sweep.spec.after.clone()],
        milestones: vec![k * sweep.spec.unit_steps()],
    }
}

/// The decay point the law predicts best when every path ends at the longest branch's length.
pub(super) fn recommend(fit: &LawFit, sweep: &SweepSummary) -> Option<Recommendation> {
    let spec = &sweep.spec;
    let budget = spec.branch_at.iter().max()? + spec.branch_length;
    let unit_steps = spec.unit_steps();
    let end = budget * unit_steps;
    let stride = (budget / 100).max(1);
    let mut candidates: Vec<u64> = (0..=budget).step_by(stride as usize).collect();
    candidates.extend(spec.branch_at.iter().copied());
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .filter(|&k| k >= 1)
        .map(|k| {
            let lr = LrTrace::from_schedule(&decayed_at(sweep, k), end);
            (k, fit.predict(&lr, &[end])[0])
        })
        .filter(|p| p.1.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, l)| Recommendation {
            budget,
            k,
            predicted_final_test_loss: l,
        })
}
