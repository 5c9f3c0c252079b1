//! A sweep's finished paths as the laws read them: each from step 0 (a branch is its main
//! path's rows before the decay point, then its own), with its LR trace; and the set the laws
//! are fitted on.

use crate::law::LrTrace;
use crate::metric::Metric;
use crate::wire::{MetricPoint, RunMetrics, RunStatus, SweepSummary};

/// One run's rows of one metric, as (step, value).
pub(super) fn series(points: &[MetricPoint], m: Metric) -> Vec<(u64, f64)> {
    points
        .iter()
        .filter_map(|p| p.get(m).map(|v| (p.step, v)))
        .collect()
}

/// A path of a sweep from step 0: the main path's rows before `from_step`, then the run's own.
fn spliced(main: &[(u64, f64)], own: &[(u64, f64)], from_step: u64) -> Vec<(u64, f64)> {
    main.iter()
        .filter(|p| p.0 < from_step)
        .chain(own.iter().filter(|p| p.0 >= from_step))
        .copied()
        .collect()
}

pub(super) struct Path {
    pub run_id: i64,
    /// None for the main path, Some(k) for the branch decaying at k.
    pub k: Option<u64>,
    pub lr: LrTrace,
    pub test: Vec<(u64, f64)>,
    pub train: Vec<(u64, f64)>,
}

/// Per seed, with its seed: the finished main path, then that seed's finished branches. A seed
/// whose main path has not finished has no paths.
pub(super) fn sweep_paths(sweep: &SweepSummary, metrics: &[RunMetrics]) -> Vec<(u64, Path)> {
    let unit_steps = sweep.spec.unit_steps();
    let rows = |id: i64| {
        metrics
            .iter()
            .find(|m| m.run_id == id)
            .map_or(&[][..], |m| &m.points[..])
    };
    let mut paths: Vec<(u64, Path)> = Vec::new();
    for seed in sweep.seeds() {
        let Some(main) = sweep
            .main_of(seed)
            .filter(|m| m.run.status == RunStatus::Completed)
        else {
            continue;
        };
        let main_test = series(rows(main.run.id), Metric::TestLoss);
        let main_train = series(rows(main.run.id), Metric::TrainLoss);
        paths.push((
            seed,
            Path {
                run_id: main.run.id,
                k: None,
                lr: LrTrace::from_schedule(&main.run.spec.schedule, main.run.spec.total_steps()),
                test: main_test.clone(),
                train: main_train.clone(),
            },
        ));
        for r in sweep.runs.iter().filter(|r| {
            r.seed == seed && r.branch_at.is_some() && r.run.status == RunStatus::Completed
        }) {
            let Some(k) = r.branch_at else { continue };
            let from = k * unit_steps;
            let own = rows(r.run.id);
            paths.push((
                seed,
                Path {
                    run_id: r.run.id,
                    k: Some(k),
                    lr: LrTrace::from_schedule(&r.run.spec.schedule, r.run.spec.total_steps()),
                    test: spliced(&main_test, &series(own, Metric::TestLoss), from),
                    train: spliced(&main_train, &series(own, Metric::TrainLoss), from),
                },
            ));
        }
    }
    paths
}

/// The paths the laws are fitted on: the main path and the branch at `fitted_k` of every seed
/// that finished both.
pub(super) fn fit_set(paths: &[(u64, Path)], fitted_k: u64) -> Vec<&Path> {
    let fit_seeds: Vec<u64> = paths
        .iter()
        .filter(|(_, p)| p.k == Some(fitted_k))
        .map(|(s, _)| *s)
        .collect();
    paths
        .iter()
        .filter(|(s, p)| fit_seeds.contains(s) && (p.k.is_none() || p.k == Some(fitted_k)))
        .map(|(_, p)| p)
        .collect()
}

/// The finished branches at decay point `k`, over seeds.
pub(super) fn branches_at(paths: &[(u64, Path)], k: u64) -> Vec<&Path> {
    paths
        .iter()
        .filter(|(_, p)| p.k == Some(k))
        .map(|(_, p)| p)
        .collect()
}
