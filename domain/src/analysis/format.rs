//! Numbers and metric names as the verdicts write them.

use crate::metric::Metric;

/// At least 3 significant digits (4 decimals below 1), so small losses and their
/// differences never print as 0.0000.
pub(super) fn fmt(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else if a == 0.0 || a >= 0.01 {
        format!("{v:.4}")
    } else if a >= 1e-4 {
        let decimals = (2.0 - a.log10().floor()) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.2e}")
    }
}

/// A signed number in the metric's own unit: accuracy in percentage points.
pub(super) fn fmt_signed(m: Metric, v: f64) -> String {
    let sign = if v > 0.0 {
        "+"
    } else if v < 0.0 {
        "−"
    } else {
        ""
    };
    match m {
        Metric::TestAcc => format!("{sign}{:.2} points", 100.0 * v.abs()),
        _ => format!("{sign}{}", fmt(v.abs())),
    }
}

/// A metric's value as the verdict writes it.
pub(super) fn fmt_value(m: Metric, v: f64) -> String {
    match m {
        Metric::TestAcc => format!("{:.1}%", 100.0 * v),
        _ => fmt(v),
    }
}

pub(super) fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::TestLoss => "test loss",
        Metric::TestAcc => "test accuracy",
        Metric::TrainLoss => "train loss",
        Metric::DistMn => "the distance to the minimum-norm solution",
        _ => m.key(),
    }
}
