//! How well a law predicted: its mean errors over the held-out branches, and whether it orders
//! the decay points as measured.

use crate::wire::LawPrediction;

pub(super) fn mean(xs: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

/// Kendall's τ-a between two equally long series (None below 2 points).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += ((a[i] - a[j]) * (b[i] - b[j])).signum();
        }
    }
    Some(s / (n * (n - 1) / 2) as f64)
}

fn argmin_k(pairs: &[(u64, f64)]) -> Option<u64> {
    pairs.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|p| p.0)
}

/// Fills `lp`'s errors from its branches, and its ranking from the final test losses of every
/// finished decay point, (k, loss), measured and predicted.
pub(super) fn score(lp: &mut LawPrediction, measured: &[(u64, f64)], predicted: &[(u64, f64)]) {
    let b = &lp.branches;
    lp.mean_abs_rel_error = mean(b.iter().map(|b| b.rel_error.abs()));
    lp.train_mean_abs_rel_error = mean(b.iter().filter_map(|b| b.train_rel_error.map(f64::abs)));
    lp.mean_curve_rel_error = mean(
        b.iter()
            .map(|b| b.curve_rel_error)
            .filter(|e| e.is_finite()),
    );
    lp.train_mean_curve_rel_error = mean(b.iter().filter_map(|b| b.train_curve_rel_error));
    lp.best_measured_k = argmin_k(measured);
    lp.best_predicted_k = argmin_k(predicted);
    lp.kendall_tau = kendall_tau(
        &measured.iter().map(|p| p.1).collect::<Vec<_>>(),
        &predicted.iter().map(|p| p.1).collect::<Vec<_>>(),
    );
}
