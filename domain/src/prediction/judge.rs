//! Whether to trust a law: the rule that flags a poor fit, and the sentence the page shows
//! about it.

use super::score::mean;
use crate::law::LawFit;
use crate::wire::LawPrediction;

/// A law "fits badly" when its mean |relative error| on the final test loss of the branches it
/// predicts exceeds this…
pub const POOR_REL_ERROR: f64 = 0.05;
/// …or exceeds this fraction of the relative spread of the measured final losses, which are
/// the differences it is meant to rank.
pub const POOR_SPREAD_FRACTION: f64 = 0.5;

/// (max − min) / mean of the measured final losses.
pub(super) fn relative_spread(vals: &[f64]) -> Option<f64> {
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    mean(vals.iter().copied()).map(|m| (hi - lo) / m.abs().max(f64::MIN_POSITIVE))
}

/// The rule `METHOD` states; no held-out branch means nothing to judge by yet.
fn is_poor(mean_abs_rel_error: Option<f64>, held_out: usize, spread: Option<f64>) -> bool {
    match mean_abs_rel_error {
        None => false,
        Some(e) => {
            !e.is_finite()
                || e > POOR_REL_ERROR
                || (held_out >= 2 && spread.is_some_and(|s| e > POOR_SPREAD_FRACTION * s))
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn assessment(lp: &LawPrediction, spread: Option<f64>, unit: &str) -> String {
    let name = &lp.label;
    let Some(e) = lp.mean_abs_rel_error else {
        return format!(
            "{name} is fitted ({} relative RMS on the fitted curves), but no other branch has \
             finished to check it against.",
            lp.fit.as_ref().map_or("?".into(), |f| pct(f.rel_rmse))
        );
    };
    let n = lp.branches.len();
    let order = match (lp.best_predicted_k, lp.best_measured_k) {
        (Some(p), Some(m)) if p == m => {
            format!("it picks the measured best decay point ({unit} {m})")
        }
        (Some(p), Some(m)) => {
            format!("it picks {unit} {p} as best where {unit} {m} measured best")
        }
        _ => String::new(),
    };
    let spread = spread.map_or(String::new(), |s| {
        format!(", against a {} spread between decay points", pct(s))
    });
    let train = match lp.train_mean_abs_rel_error {
        Some(t) if lp.train_poor_fit => format!(
            " Its train-loss prediction is off by {} on average and is not drawn.",
            pct(t)
        ),
        Some(t) => format!(" Train loss: within {} on average.", pct(t)),
        None => String::new(),
    };
    let main = if lp.poor_fit {
        format!(
            "{name} fits badly: its final test loss is off by {} on average over {n} held-out \
             branch{}{spread}, so its curves are not drawn as predictions; {order}.",
            pct(e),
            if n == 1 { "" } else { "es" }
        )
    } else {
        format!(
            "{name} predicts the final test loss of {n} held-out branch{} within {} on average \
             (curves within {}){spread}; {order}.",
            if n == 1 { "" } else { "es" },
            pct(e),
            lp.mean_curve_rel_error.map_or("?".into(), pct)
        )
    };
    main + &train
}

/// Fills `lp`'s verdicts once it is scored: `measured` are the final test losses of every
/// finished decay point, `train_spread` the relative spread of their final train losses.
pub(super) fn judge(
    lp: &mut LawPrediction,
    fit: &LawFit,
    has_train_fit: bool,
    measured: &[(u64, f64)],
    train_spread: Option<f64>,
    unit: &str,
) {
    let held_out = lp.branches.len();
    let spread = relative_spread(&measured.iter().map(|p| p.1).collect::<Vec<_>>());
    lp.poor_fit = match lp.mean_abs_rel_error {
        None => fit.rel_rmse > POOR_REL_ERROR,
        e => is_poor(e, held_out, spread),
    };
    lp.train_poor_fit =
        is_poor(lp.train_mean_abs_rel_error, held_out, train_spread) || !has_train_fit;
    lp.assessment = assessment(lp, spread, unit);
}
