//! Both laws evaluated at one point from its precomputed LR features, with analytic gradients;
//! the fit and `predict` share this code, so what is fitted is what is drawn.
//!
//! Kernel parameters θ (better conditioned than the formula's, converted at the boundary):
//! - Tissue:      [L0, a, alpha, D, tau]            with C = D·(1 − lambda), tau = 1/(1 − lambda)
//! - multi-power: [L0, a, alpha, B, C, beta, gamma]
//!
//! and the power term written a·(S/S_ref)^(−alpha), so A = a·S_ref^alpha. `a` is then the excess
//! loss at a typical observed area rather than at area 1, and D the loss drop a unit drop of the
//! normalised LR gives once the annealing momentum has settled; neither swings by orders of
//! magnitude when alpha or lambda move, which the raw A and C do.

use super::LawKind;
use super::trace::LrTrace;

/// Floor on a normalised LR inside the multi-power term's η^(−gamma): a decay to exactly 0 then
/// gives a finite weight (and, with no area after it, no loss drop) instead of ∞·0.
const LR_FLOOR: f64 = 1e-9;

/// One LR change seen from a point: normalised drop, steps since it, normalised area since it
/// (Sₖ(t), counting the step of the change itself) and ln of the normalised LR after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Term {
    pub drop: f64,
    pub lag: f64,
    pub since: f64,
    pub ln_lr: f64,
}

/// The point at `s` completed steps: ln of its normalised forward area, and its terms appended
/// to `out`. None where the laws are undefined (past the trace, or no area yet).
pub(super) fn features(
    trace: &LrTrace,
    s: usize,
    inv_ref: f64,
    out: &mut Vec<Term>,
) -> Option<f64> {
    let area = trace.area_at_step(s as u64)? * inv_ref;
    if !(area > 0.0 && area.is_finite()) {
        return None;
    }
    let end = trace.area_at(s as f64);
    trace.changes_before(s, |c| {
        out.push(Term {
            drop: c.drop * inv_ref,
            lag: s as f64 - c.pos,
            since: (end - trace.area_at(c.pos)) * inv_ref,
            ln_lr: (c.lr * inv_ref).max(LR_FLOOR).ln(),
        });
    });
    Some(area.ln())
}

/// The law at one point. `ell` = ln(S/S_ref); `grad`, when given, receives ∂f/∂θ.
pub(super) fn eval(
    law: LawKind,
    th: &[f64],
    ell: f64,
    terms: &[Term],
    grad: Option<&mut [f64]>,
) -> f64 {
    let (l0, a, alpha) = (th[0], th[1], th[2]);
    let pw = (-alpha * ell).exp();
    let power = a * pw;
    match law {
        LawKind::Tissue => {
            let (d, tau) = (th[3], th[4]);
            let ln_lambda = (-1.0 / tau).ln_1p();
            // Σ δ·(1 − λ^lag) = (1 − λ)·S₂-contribution, and its derivative in ln λ.
            let (mut s, mut ds) = (0.0, 0.0);
            for t in terms {
                let e = (t.lag * ln_lambda).exp();
                s += t.drop * (1.0 - e);
                ds -= t.drop * e * t.lag;
            }
            if let Some(g) = grad {
                g[0] = 1.0;
                g[1] = pw;
                g[2] = -ell * power;
                g[3] = -s;
                // d ln λ / dτ = 1/(τ(τ − 1))
                g[4] = -d * ds / (tau * (tau - 1.0));
            }
            l0 + power - d * s
        }
        LawKind::MultiPower => {
            let (b, c, beta, gamma) = (th[3], th[4], th[5], th[6]);
            let (mut s, mut dc, mut dbeta, mut dgamma) = (0.0, 0.0, 0.0, 0.0);
            for t in terms {
                let x = (-gamma * t.ln_lr).exp() * t.since;
                let z = 1.0 + c * x;
                let lz = z.ln();
                let zb = (-beta * lz).exp();
                s += t.drop * (1.0 - zb);
                let slope = t.drop * beta * zb / z; // δ·∂G/∂(C·x)
                dc += slope * x;
                dbeta += t.drop * zb * lz;
                dgamma -= slope * c * x * t.ln_lr;
            }
            if let Some(g) = grad {
                g[0] = 1.0;
                g[1] = pw;
                g[2] = -ell * power;
                g[3] = -s;
                g[4] = -b * dc;
                g[5] = -b * dbeta;
                g[6] = -b * dgamma;
            }
            l0 + power - b * s
        }
    }
}

/// Kernel θ from the formula's parameters (in `LawKind::param_names` order), power term
/// referenced to S_ref = 1.
pub(super) fn theta_from_formula(law: LawKind, p: &[f64]) -> Vec<f64> {
    match law {
        LawKind::Tissue => {
            let tau = 1.0 / (1.0 - p[4]);
            vec![p[0], p[1], p[2], p[3] * tau, tau]
        }
        LawKind::MultiPower => p.to_vec(),
    }
}

/// The formula's parameters from kernel θ fitted with reference area `s_ref`.
pub(super) fn formula_from_theta(law: LawKind, th: &[f64], s_ref: f64) -> Vec<f64> {
    let a = th[1] * s_ref.powf(th[2]);
    match law {
        LawKind::Tissue => {
            let tau = th[4];
            vec![th[0], a, th[2], th[3] / tau, 1.0 - 1.0 / tau]
        }
        LawKind::MultiPower => {
            let mut p = th.to_vec();
            p[1] = a;
            p
        }
    }
}
