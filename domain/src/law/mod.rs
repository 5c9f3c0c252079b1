//! Schedule-aware loss laws: fitted to a run's loss curve(s), they predict the curve under
//! another LR schedule. Two published laws, each a named model with named parameters:
//!
//! - **Tissue et al. 2024**, "Scaling Law with Learning Rate Annealing" (arXiv 2408.11029):
//!   L(s) = L0 + A·S₁^(−alpha) − C·S₂, with the forward area S₁ = Σᵢ ηᵢ and the annealing area
//!   S₂ = Σᵢ mᵢ, mᵢ = lambda·mᵢ₋₁ + (ηᵢ₋₁ − ηᵢ).
//! - **Luo et al. 2025**, "A Multi-Power Law for Loss Curve Prediction Across Learning Rate
//!   Schedules" (arXiv 2503.12811): L(t) = L0 + A·(S₁(t) + S_W)^(−alpha) − LD(t), with
//!   LD(t) = B·Σₖ (ηₖ₋₁ − ηₖ)·G(ηₖ^(−gamma)·Sₖ(t)), Sₖ(t) = Σ_{τ=k..t} η_τ and
//!   G(x) = 1 − (C·x + 1)^(−beta).
//!
//! Conventions and choices:
//!
//! - **Steps.** A point at step s has had s optimizer updates, with LRs `lr[0..s]`; S₁(s) is
//!   their sum, so the laws are undefined at step 0 (S₁ = 0) and such points are skipped.
//! - **Warmup.** Steps before the first step at the trace's peak LR are warmup: they count in
//!   the forward area (that sum is the multi-power law's S_W) but their LR increases are neither
//!   annealing (Tissue's mᵢ) nor loss drop (multi-power's sum starts after the warmup, whose
//!   η₀ is the peak). LR increases after the peak (restarts) enter both sums with negative sign.
//! - **LR unit.** Every η is divided by the peak LR of the fitted traces (`LawFit::lr_ref`,
//!   stored with the fit and reused by `predict`), so areas count "steps at peak LR" and the
//!   parameters do not depend on whether the LR was 0.1 or 3·10⁻⁴. A predicted schedule with
//!   another peak is read in the same unit, which is what the law says about it.
//! - **Tissue's lambda is fitted**, within [1/3, 1 − 10⁻⁶]: the paper's 0.999 (a memory of
//!   ~1,000 steps) suits LLM runs of ~10⁵ steps, but this lab's curves are 10³–5·10⁴ steps and
//!   the speed of the post-decay drop, which lambda sets, is what a short run shows best.
//! - **Cost.** Evaluating a point walks back over the LR changes before it, merged into blocks
//!   of one sign that each span at most a tenth of their distance from the point, represented
//!   by their drop-weighted mean step and LR. A step decay's changes are single steps and
//!   exact; a 50,000-step cosine's 50,000 changes become ≤ ~100 blocks per point, at a relative
//!   error ≤ 2·10⁻⁴ in S₂ and ~10⁻⁵ in a multi-power prediction against the exact per-step sums
//!   (tested). Both laws respond to a change smoothly on a time scale that grows with the time
//!   since it, which is what makes old changes mergeable.
//!
//! Fitting ([`fit()`]), jointly over any number of curves, each with its own LR trace:
//!
//! - **Residuals are relative**, (L̂ − L)/L, so curves at different loss levels, and the high
//!   early part of a curve, weigh by their shape rather than by their scale.
//! - **Robust loss:** soft-L1 on those residuals, ρ(r) = 2δ²(√(1 + (r/δ)²) − 1) (scipy's
//!   `soft_l1`), handed to Levenberg–Marquardt as the residual ψ = sign(r)·√ρ. δ is 1.5 robust
//!   standard deviations of the curves' own point-to-point noise (the median deviation of each
//!   point from the line through its neighbours), kept within [0.1 %, 10 %]: noise counts
//!   quadratically, a spike, or a stretch the law cannot follow (the first few hundred steps
//!   of a toy run), only about linearly.
//! - **Bounds** by smooth maps from unconstrained parameters, because the solver has none:
//!   scaled sigmoids for L0 ∈ [0, cap], alpha, beta and gamma; a sigmoid in log space for
//!   Tissue's 1/(1 − lambda) and the multi-power C; exp for the amplitudes. The ranges are on
//!   [`fit()`].
//! - **Starts:** a fixed grid over the nonlinear parameters (alpha × lambda for Tissue,
//!   alpha × C × beta × gamma for multi-power: 45 and 180 points), at each of which L0, A and
//!   C (or B), in which the laws are linear, are solved exactly by bounded least squares; the
//!   best 4 are polished by Levenberg–Marquardt and the best result kept. Deterministic.
//! - **Downsampling:** each curve is thinned to at most [`MAX_POINTS_PER_CURVE`] points, log-
//!   spaced near the start, evenly spaced to the end (keeping the last point) and log-spaced
//!   after each large single-step LR drop.
//!
//! Measured natively in the dev profile: a fit on a constant and a step-decayed curve of 200
//! points each takes 7–13 ms, ~0.1–0.45 s when one of the curves is cosine-decayed (every
//! point then has ~100 merged changes); predicting 200 points of a 50,000-step cosine ~3 ms,
//! plus ~3 ms to build its trace.

mod fit;
mod kernel;
mod trace;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use fit::MAX_POINTS_PER_CURVE;
pub use trace::{LrTrace, MAX_TRACE_STEPS};

/// Which law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LawKind {
    Tissue,
    MultiPower,
}

impl LawKind {
    pub const ALL: [LawKind; 2] = [LawKind::Tissue, LawKind::MultiPower];

    pub fn key(self) -> &'static str {
        match self {
            LawKind::Tissue => "tissue",
            LawKind::MultiPower => "multi_power",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LawKind::Tissue => "Tissue et al. 2024 (annealing law)",
            LawKind::MultiPower => "Luo et al. 2025 (multi-power law)",
        }
    }

    /// The formula with the parameter names, η being the LR divided by `lr_ref`.
    pub fn formula(self) -> &'static str {
        match self {
            LawKind::Tissue => {
                "L(s) = L0 + A·S1^(−alpha) − C·S2, where S1 = Σᵢ ηᵢ (steps i = 1..s), \
                 S2 = Σᵢ mᵢ, mᵢ = lambda·mᵢ₋₁ + (ηᵢ₋₁ − ηᵢ), and η is the LR divided by the \
                 peak LR of the fitted runs"
            }
            LawKind::MultiPower => {
                "L(t) = L0 + A·(S1(t) + S_W)^(−alpha) − B·Σₖ (ηₖ₋₁ − ηₖ)·G(ηₖ^(−gamma)·Sₖ(t)), \
                 where G(x) = 1 − (C·x + 1)^(−beta), Sₖ(t) = Σ_{τ=k..t} η_τ, S1(t) + S_W is \
                 the LR area including warmup, and η is the LR divided by the peak LR of the \
                 fitted runs"
            }
        }
    }

    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            LawKind::Tissue => &["L0", "A", "alpha", "C", "lambda"],
            LawKind::MultiPower => &["L0", "A", "alpha", "B", "C", "beta", "gamma"],
        }
    }
}

/// One observed curve: the LR trace it was trained with, and (step, loss) points where `step`
/// = optimizer steps completed when the loss was measured (step 0 = initial loss; the laws
/// skip points with S₁ = 0, and points past the end of the trace).
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    pub lr: &'a LrTrace,
    pub points: &'a [(u64, f64)],
}

/// A fitted law. Serialisable, so a fit made on the server can be evaluated in the browser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LawFit {
    pub law: LawKind,
    /// In `param_names` order, in the units the formula states (η = LR / `lr_ref`).
    pub params: Vec<(String, f64)>,
    /// On the fitted (downsampled) points, in loss units.
    pub rmse: f64,
    /// `rmse` / mean |loss| of the fitted points.
    pub rel_rmse: f64,
    /// Points fitted, after downsampling.
    pub points: usize,
    /// Whether Levenberg–Marquardt stopped on a convergence test (not on its evaluation budget).
    pub converged: bool,
    /// The LR unit: the largest LR of the fitted traces.
    pub lr_ref: f64,
}

/// Why a fit could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    TooFewPoints {
        need: usize,
        got: usize,
    },
    /// Every curve has a constant LR: the annealing term cannot be identified.
    NoAnnealing,
    Failed(String),
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitError::TooFewPoints { need, got } => write!(
                f,
                "the law needs at least {need} loss measurements after step 0 to fit, and \
                 the curves have {got}"
            ),
            FitError::NoAnnealing => write!(
                f,
                "none of the curves lowers its learning rate, so the annealing term cannot be \
                 fitted from them"
            ),
            FitError::Failed(why) => write!(f, "the fit failed: {why}"),
        }
    }
}

impl std::error::Error for FitError {}

/// Fits `law` jointly to the curves, each with its own LR trace.
///
/// Curves of more than [`MAX_POINTS_PER_CURVE`] points are thinned first. Errors: fewer than
/// two points per parameter ([`FitError::TooFewPoints`]); no curve lowering its LR before its
/// last point ([`FitError::NoAnnealing`]: the annealing amplitude would be unidentified, and a
/// fit pretending otherwise would predict every decay as doing nothing); non-positive losses or
/// no finite fit ([`FitError::Failed`]).
///
/// Bounds: 0 ≤ L0 ≤ the lowest loss among points whose LR is still within 1 % of the peak
/// (all points when there are none). Both laws predict losses below L0 once the LR has
/// decayed, so only unannealed points bound it; a cap at the lowest annealed loss would forbid
/// the decay's drop from going below the constant-LR asymptote, which it does in practice.
/// Amplitudes ≥ 0 (A, Tissue's C, the multi-power B); alpha ∈ [0.01, 3]; Tissue's lambda ∈
/// [1/3, 1 − 10⁻⁶]; multi-power C ∈ [10⁻⁸, 10⁴], beta ∈ [0.01, 5], gamma ∈ [0, 2].
pub fn fit(law: LawKind, curves: &[Observed<'_>]) -> Result<LawFit, FitError> {
    fit::fit(law, curves)
}

impl LawFit {
    /// The predicted loss after each of `steps` completed steps of `lr`; NaN where the law is
    /// undefined (S₁ = 0, e.g. step 0, or a step past the end of the trace).
    pub fn predict(&self, lr: &LrTrace, steps: &[u64]) -> Vec<f64> {
        let names = self.law.param_names();
        let formula: Option<Vec<f64>> = names.iter().map(|n| self.param(n)).collect();
        let inv_ref = 1.0 / self.lr_ref;
        let (Some(formula), true) = (formula, inv_ref.is_finite() && inv_ref > 0.0) else {
            return vec![f64::NAN; steps.len()];
        };
        let theta = kernel::theta_from_formula(self.law, &formula);
        let mut terms = Vec::new();
        steps
            .iter()
            .map(|&s| {
                terms.clear();
                let Some(s) = lr.index(s) else {
                    return f64::NAN;
                };
                match kernel::features(lr, s, inv_ref, &mut terms) {
                    Some(ell) => kernel::eval(self.law, &theta, ell, &terms, None),
                    None => f64::NAN,
                }
            })
            .collect()
    }

    /// A parameter by its name in `param_names`.
    pub fn param(&self, name: &str) -> Option<f64> {
        self.params.iter().find(|(n, _)| n == name).map(|p| p.1)
    }
}
