//! Numbers a sweep page derives from its runs: final metrics against the decay point, Pearson r,
//! compute ratios, and the plain-language conclusion. Pure functions, tested here.

/// One finished branch of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct BranchResult {
    /// Decay point, in the sweep's unit (steps for the toy model, epochs for networks).
    pub k: u64,
    /// Training length in the same unit (k + branch length).
    pub length: u64,
    /// Wall-clock seconds of training, when known.
    pub seconds: Option<f64>,
    pub test_loss: f64,
    /// Test accuracy (networks) — absent for the toy model.
    pub test_acc: Option<f64>,
    /// ‖α − α_mn‖ (toy model only).
    pub dist_mn: Option<f64>,
}

/// Pearson correlation; None when either side has no spread or fewer than 3 points.
pub fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    if n < 3 {
        return None;
    }
    let (mx, my) = (
        xs[..n].iter().sum::<f64>() / n as f64,
        ys[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (xs[i] - mx, ys[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// A paragraph a lead can read: what decaying later bought, at what compute.
pub fn conclusion(results: &[BranchResult], unit: &str) -> String {
    let mut rs: Vec<&BranchResult> = results.iter().filter(|r| r.test_loss.is_finite()).collect();
    rs.sort_by_key(|r| r.k);
    let (Some(first), Some(last)) = (rs.first(), rs.last()) else {
        return "No branch has finished yet.".into();
    };
    if rs.len() < 2 {
        return format!(
            "Only the branch decayed at {unit} {} has finished so far.",
            first.k
        );
    }
    let best = rs
        .iter()
        .min_by(|a, b| a.test_loss.total_cmp(&b.test_loss))
        .copied()
        .unwrap_or(last);
    let compute = last.length as f64 / first.length.max(1) as f64;
    let mut s = match (first.test_acc, last.test_acc) {
        (Some(a), Some(b)) => format!(
            "Decaying at {unit} {} instead of {} changed test accuracy from {:.1}% to {:.1}% (test loss {} → {}) at {:.2}× the compute.",
            last.k,
            first.k,
            100.0 * a,
            100.0 * b,
            fmt(first.test_loss),
            fmt(last.test_loss),
            compute
        ),
        _ => format!(
            "Decaying at {unit} {} instead of {} changed the final test loss from {} to {} at {:.2}× the compute.",
            last.k,
            first.k,
            fmt(first.test_loss),
            fmt(last.test_loss),
            compute
        ),
    };
    if let (Some(a), Some(b)) = (first.dist_mn, last.dist_mn) {
        s.push_str(&format!(
            " The distance to the minimum-norm solution went from {} to {}.",
            fmt(a),
            fmt(b)
        ));
    }
    let ks: Vec<f64> = rs.iter().map(|r| r.k as f64).collect();
    let losses: Vec<f64> = rs.iter().map(|r| r.test_loss).collect();
    if let Some(r) = pearson(&ks, &losses) {
        let trend = if r < -0.5 {
            "later decay gave lower test loss"
        } else if r > 0.5 {
            "later decay gave higher test loss"
        } else {
            "the decay point made no consistent difference"
        };
        s.push_str(&format!(" Across {} branches, {trend} (Pearson r = {r:.2} between decay {unit} and final test loss).", rs.len()));
    }
    if best.k != last.k {
        s.push_str(&format!(
            " The lowest test loss came from decaying at {unit} {}.",
            best.k
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(k: u64, loss: f64) -> BranchResult {
        BranchResult {
            k,
            length: k + 100,
            seconds: None,
            test_loss: loss,
            test_acc: None,
            dist_mn: Some(loss * 10.0),
        }
    }

    #[test]
    fn pearson_of_known_lines() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&xs, &[2.0, 4.0, 6.0, 8.0]).unwrap_or(0.0) - 1.0).abs() < 1e-12);
        assert!((pearson(&xs, &[8.0, 6.0, 4.0, 2.0]).unwrap_or(0.0) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&xs, &[1.0, 1.0, 1.0, 1.0]), None);
        assert_eq!(pearson(&xs[..2], &[1.0, 2.0]), None);
    }

    #[test]
    fn conclusion_reports_trend_compute_and_distance() {
        let text = conclusion(
            &[
                b(1000, 0.62),
                b(5000, 0.39),
                b(20000, 0.30),
                b(40000, 0.296),
            ],
            "step",
        );
        assert!(
            text.contains("Decaying at step 40000 instead of 1000"),
            "{text}"
        );
        assert!(text.contains("from 0.6200 to 0.2960"), "{text}");
        assert!(text.contains("36.45× the compute"), "{text}"); // 40100 / 1100 steps
        assert!(text.contains("later decay gave lower test loss"), "{text}");
        assert!(
            text.contains("minimum-norm solution went from 6.200 to 2.960"),
            "{text}"
        );
    }

    #[test]
    fn conclusion_with_accuracy_and_too_few_branches() {
        let mut r = vec![b(30, 0.5), b(80, 0.4)];
        r[0].test_acc = Some(0.81);
        r[1].test_acc = Some(0.845);
        let text = conclusion(&r, "epoch");
        assert!(text.contains("from 81.0% to 84.5%"), "{text}");
        assert!(conclusion(&[], "epoch").contains("No branch"));
        assert!(conclusion(&r[..1], "epoch").contains("Only the branch"));
    }
}
