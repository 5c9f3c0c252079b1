//! The charts of a run's page and of its shared snapshot: which metrics each chart draws, for a
//! toy run and for a network run.

use domain::Metric;
use experiment::Experiment;

use super::chart::ChartDef;

/// Charts every run has.
const LOSS_CHART: ChartDef = ChartDef {
    div: "chart-loss",
    title: "loss",
    log_y: true,
    series: &[
        (Metric::TrainLoss, "train loss"),
        (Metric::TestLoss, "test loss"),
    ],
};
const LR_CHART: ChartDef = ChartDef {
    div: "chart-lr",
    title: "learning rate",
    log_y: false,
    series: &[(Metric::Lr, "LR")],
};

/// The charts of a toy run: loss, LR, and the norms that show the drift to α_mn.
pub const TOY_CHARTS: &[ChartDef] = &[
    LOSS_CHART,
    LR_CHART,
    ChartDef {
        div: "chart-norms",
        title: "norms",
        log_y: false,
        series: &[(Metric::WNorm, "‖w‖"), (Metric::DistMn, "‖α − α_mn‖")],
    },
];

/// The charts of a network run.
pub const NET_CHARTS: &[ChartDef] = &[
    LOSS_CHART,
    ChartDef {
        div: "chart-acc",
        title: "accuracy",
        log_y: false,
        series: &[
            (Metric::TrainAcc, "train acc"),
            (Metric::TestAcc, "test acc"),
        ],
    },
    LR_CHART,
    ChartDef {
        div: "chart-norms",
        title: "norms",
        log_y: false,
        series: &[(Metric::WNorm, "‖w‖"), (Metric::DistInit, "‖w − w₀‖")],
    },
];

/// The charts a run of `experiment` draws.
pub fn charts_for(experiment: &Experiment) -> &'static [ChartDef] {
    match experiment {
        Experiment::Toy(_) => TOY_CHARTS,
        Experiment::Net(_) => NET_CHARTS,
    }
}
