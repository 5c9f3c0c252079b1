//! Fitting a law to observed curves: downsampling, the robust relative residual, a
//! deterministic grid of starts whose linear parameters are solved exactly, and
//! Levenberg–Marquardt from the best few in a bounded reparametrisation.

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{DMatrix, DVector, Dyn, storage::Owned};

use super::kernel::{self, Term};
use super::trace::LrTrace;
use super::{FitError, LawFit, LawKind, Observed};

/// Points kept per curve: denser curves are thinned to this many before fitting, log-spaced
/// near the start, evenly spaced to the end and log-spaced after large LR drops.
pub const MAX_POINTS_PER_CURVE: usize = 300;
/// Grid starts polished by Levenberg–Marquardt.
const STARTS: usize = 4;
/// A curve whose LR has dropped by less than this (normalised) before its last point carries
/// no annealing signal.
const MIN_ANNEALING: f64 = 1e-3;
/// Points whose LR is still within this (normalised) of the peak count as unannealed; they
/// bound L0.
const UNANNEALED: f64 = 0.01;

/// Parameter bounds (formula units, LR normalised by the peak).
pub(super) const ALPHA: (f64, f64) = (0.01, 3.0);
/// tau = 1/(1 − lambda): lambda ∈ [1/3, 1 − 10⁻⁶], momentum memories of 1.5 to 10⁶ steps.
pub(super) const TAU: (f64, f64) = (1.5, 1e6);
pub(super) const MP_C: (f64, f64) = (1e-8, 1e4);
pub(super) const BETA: (f64, f64) = (0.01, 5.0);
pub(super) const GAMMA: (f64, f64) = (0.0, 2.0);

const ALPHA_GRID: [f64; 5] = [0.1, 0.25, 0.5, 1.0, 2.0];
const TAU_GRID: [f64; 9] = [3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4];
const C_GRID: [f64; 6] = [1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0];
const BETA_GRID: [f64; 3] = [0.4, 1.0, 2.5];
const GAMMA_GRID: [f64; 2] = [0.2, 0.6];

/// The fitted points with everything the kernel needs, independent of the parameters.
#[derive(Default)]
struct Prepared {
    y: Vec<f64>,
    /// ln(S/S_ref) once S_ref is known (ln S before).
    ell: Vec<f64>,
    /// Point i's terms are `terms[offs[i]..offs[i + 1]]`.
    offs: Vec<usize>,
    terms: Vec<Term>,
}

impl Prepared {
    fn len(&self) -> usize {
        self.y.len()
    }

    fn terms(&self, i: usize) -> &[Term] {
        &self.terms[self.offs[i]..self.offs[i + 1]]
    }
}

pub(super) fn fit(law: LawKind, curves: &[Observed<'_>]) -> Result<LawFit, FitError> {
    let need = 2 * law.param_names().len();
    let lr_ref = curves.iter().map(|c| c.lr.peak()).fold(0.0, f64::max);
    let inv_ref = if lr_ref > 0.0 { 1.0 / lr_ref } else { 0.0 };

    let mut prep = Prepared {
        offs: vec![0],
        ..Prepared::default()
    };
    let mut annealed = false;
    let mut unannealed_min = f64::INFINITY;
    let mut noise = Vec::new();
    for c in curves {
        let pts = downsample(&usable(c), c.lr, MAX_POINTS_PER_CURVE);
        noise_samples(&pts, &mut noise);
        for (s, y) in pts {
            let Some(ln_area) = kernel::features(c.lr, s, inv_ref, &mut prep.terms) else {
                prep.terms.truncate(prep.offs[prep.len()]);
                continue;
            };
            let decreased: f64 = prep.terms[prep.offs[prep.len()]..]
                .iter()
                .map(|t| t.drop.max(0.0))
                .sum();
            annealed |= decreased >= MIN_ANNEALING;
            if decreased < UNANNEALED {
                unannealed_min = unannealed_min.min(y);
            }
            prep.y.push(y);
            prep.ell.push(ln_area);
            prep.offs.push(prep.terms.len());
        }
    }
    let got = prep.len();
    if got < need {
        return Err(FitError::TooFewPoints { need, got });
    }
    if let Some(bad) = prep.y.iter().find(|&&y| y <= 0.0) {
        return Err(FitError::Failed(format!(
            "the laws model positive losses, and a curve has a loss of {bad}"
        )));
    }
    if !annealed {
        return Err(FitError::NoAnnealing);
    }

    let min_loss = prep.y.iter().copied().fold(f64::INFINITY, f64::min);
    let cap = if unannealed_min.is_finite() {
        unannealed_min
    } else {
        min_loss
    };
    let ln_ref = prep.ell.iter().sum::<f64>() / got as f64;
    for e in &mut prep.ell {
        *e -= ln_ref;
    }
    let s_ref = ln_ref.exp();
    let delta = robust_scale(&mut noise);
    let maps = maps(law, cap);

    let starts = grid(law, &prep, cap, delta);
    let solver = LevenbergMarquardt::new()
        .with_ftol(1e-10)
        .with_xtol(1e-10)
        .with_gtol(1e-10)
        .with_patience(40);
    let mut best: Option<(f64, Vec<f64>, bool)> = None;
    for start in starts {
        let u = DVector::from_iterator(
            maps.len(),
            maps.iter().zip(&start).map(|(m, &th)| m.inverse(th)),
        );
        let problem = Problem {
            law,
            prep: &prep,
            maps: &maps,
            delta,
            u,
        };
        let (problem, report) = solver.minimize(problem);
        let theta = problem.theta();
        let score = objective(law, &prep, &theta, delta);
        if score.is_finite() && best.as_ref().is_none_or(|b| score < b.0) {
            best = Some((score, theta, report.termination.was_successful()));
        }
    }
    let Some((_, theta, converged)) = best else {
        return Err(FitError::Failed(
            "no starting point gave a finite fit".into(),
        ));
    };

    let mut sq = 0.0;
    for i in 0..got {
        let f = kernel::eval(law, &theta, prep.ell[i], prep.terms(i), None);
        sq += (f - prep.y[i]).powi(2);
    }
    let rmse = (sq / got as f64).sqrt();
    let mean = prep.y.iter().map(|y| y.abs()).sum::<f64>() / got as f64;
    let params = kernel::formula_from_theta(law, &theta, s_ref);
    if !params.iter().all(|p| p.is_finite()) || !rmse.is_finite() {
        return Err(FitError::Failed(
            "the fitted parameters are not finite".into(),
        ));
    }
    Ok(LawFit {
        law,
        params: law
            .param_names()
            .iter()
            .map(|n| (*n).to_string())
            .zip(params)
            .collect(),
        rmse,
        rel_rmse: rmse / mean,
        points: got,
        converged,
        lr_ref,
    })
}

/// A curve's points the laws can use (after at least one step of nonzero LR, within the trace,
/// finite loss), sorted by step.
fn usable(c: &Observed<'_>) -> Vec<(usize, f64)> {
    let mut pts: Vec<(usize, f64)> = c
        .points
        .iter()
        .filter(|(_, y)| y.is_finite())
        .filter_map(|&(s, y)| {
            let i = c.lr.index(s)?;
            (c.lr.area_at_step(s)? > 0.0).then_some((i, y))
        })
        .collect();
    pts.sort_by_key(|p| p.0);
    pts
}

/// At most `budget` points: 2/5 log-spaced in step (the steep power-law start), 2/5 evenly
/// spaced (so the tail, and the last point, are kept), and, when the LR drops by more than a
/// tenth of its total decrease at once, 1/5 log-spaced in the time since those drops (the
/// sharp post-decay transient). Each target takes the nearest observed point; no averaging,
/// which would blur the transient.
pub(super) fn downsample(
    pts: &[(usize, f64)],
    trace: &LrTrace,
    budget: usize,
) -> Vec<(usize, f64)> {
    if pts.len() <= budget || budget < 10 {
        return pts.to_vec();
    }
    let first = pts[0].0.max(1) as f64;
    let last = pts[pts.len() - 1].0 as f64;
    let total: f64 = trace.drops().map(|(_, d)| d.max(0.0)).sum();
    let major: Vec<f64> = trace
        .drops()
        .filter(|&(p, d)| d > 0.1 * total && p >= first && p + 1.0 < last)
        .map(|(p, _)| p)
        .take(3)
        .collect();
    let per_drop = if major.is_empty() {
        0
    } else {
        budget / 5 / major.len()
    };
    let rest = budget - per_drop * major.len();
    let n_log = rest / 2;
    let n_lin = rest - n_log;
    let spaced = |n: usize| (0..n).map(move |k| k as f64 / (n.max(2) - 1) as f64);
    let mut targets: Vec<f64> = Vec::with_capacity(budget);
    targets.extend(spaced(n_log).map(|f| first * (last / first).powf(f)));
    targets.extend(spaced(n_lin).map(|f| first + (last - first) * f));
    for &p in &major {
        let span = last - p;
        targets.extend(spaced(per_drop).map(|f| p + span.powf(f)));
    }
    let mut idx: Vec<usize> = targets
        .iter()
        .map(|&t| {
            let i = pts.partition_point(|p| (p.0 as f64) < t);
            if i == 0 {
                0
            } else if i >= pts.len() || t - pts[i - 1].0 as f64 <= pts[i].0 as f64 - t {
                (i - 1).min(pts.len() - 1)
            } else {
                i
            }
        })
        .collect();
    idx.push(pts.len() - 1);
    idx.sort_unstable();
    idx.dedup();
    idx.into_iter().map(|i| pts[i]).collect()
}

/// Relative deviations of each point from the line through its neighbours, scaled to unit
/// variance under independent noise: a noise sample that a smooth curve barely biases.
fn noise_samples(pts: &[(usize, f64)], out: &mut Vec<f64>) {
    for w in pts.windows(3) {
        let [(s0, y0), (s1, y1), (s2, y2)] = [w[0], w[1], w[2]];
        if s2 <= s0 || y1 <= 0.0 {
            continue;
        }
        let f = (s1 - s0) as f64 / (s2 - s0) as f64;
        let line = y0 + (y2 - y0) * f;
        out.push(((y1 - line) / y1).abs() / (1.0 + f * f + (1.0 - f) * (1.0 - f)).sqrt());
    }
}

/// Soft-L1 scale: 1.5 robust (MAD) standard deviations of the relative noise, within
/// [0.1 %, 10 %]. Residuals below it count quadratically, those above about linearly.
fn robust_scale(noise: &mut [f64]) -> f64 {
    if noise.is_empty() {
        return 1e-3;
    }
    noise.sort_by(f64::total_cmp);
    let median = noise[noise.len() / 2];
    (1.5 * 1.4826 * median).clamp(1e-3, 0.1)
}

/// The soft-L1 residual ψ(r) = sign(r)·√(2δ²(√(1 + (r/δ)²) − 1)), so Σψ² is scipy's
/// `soft_l1` loss, and dψ/dr; written in a form that is exact for small r.
fn soft_l1(r: f64, delta: f64) -> (f64, f64) {
    let q = r / delta;
    let h = (1.0 + q * q).sqrt();
    (r * (2.0 / (h + 1.0)).sqrt(), ((h + 1.0) / 2.0).sqrt() / h)
}

fn objective(law: LawKind, prep: &Prepared, theta: &[f64], delta: f64) -> f64 {
    (0..prep.len())
        .map(|i| {
            let f = kernel::eval(law, theta, prep.ell[i], prep.terms(i), None);
            soft_l1((f - prep.y[i]) / prep.y[i], delta).0.powi(2)
        })
        .sum()
}

/// Starts: for every grid point of the nonlinear parameters, L0, a and D (or B), in which the
/// law is linear, are solved exactly by bounded least squares; the best [`STARTS`] by the
/// robust objective are returned as kernel θ.
fn grid(law: LawKind, prep: &Prepared, cap: f64, delta: f64) -> Vec<Vec<f64>> {
    let m = prep.len();
    let floor = 1e-4 * prep.y.iter().sum::<f64>() / m as f64;
    let nonlinear: Vec<Vec<f64>> = match law {
        LawKind::Tissue => TAU_GRID.iter().map(|&t| vec![t]).collect(),
        LawKind::MultiPower => C_GRID
            .iter()
            .flat_map(|&c| {
                BETA_GRID
                    .iter()
                    .flat_map(move |&b| GAMMA_GRID.iter().map(move |&g| vec![c, b, g]))
            })
            .collect(),
    };
    let mut cands: Vec<(f64, Vec<f64>)> = Vec::new();
    let mut q = vec![0.0; m];
    let mut p = vec![0.0; m];
    for nl in &nonlinear {
        // The annealing basis: the law with L0 = a = 0 and unit amplitude is −basis.
        let mut th = vec![0.0, 0.0, 1.0, 1.0];
        th.extend_from_slice(nl);
        for (i, qi) in q.iter_mut().enumerate() {
            *qi = -kernel::eval(law, &th, prep.ell[i], prep.terms(i), None);
        }
        for &alpha in &ALPHA_GRID {
            for (pi, e) in p.iter_mut().zip(&prep.ell) {
                *pi = (-alpha * e).exp();
            }
            let Some([l0, a, d]) = bounded_linear(&p, &q, &prep.y, cap) else {
                continue;
            };
            let (l0, a, d) = (l0.clamp(0.02 * cap, 0.98 * cap), a.max(floor), d.max(floor));
            let score: f64 = (0..m)
                .map(|i| {
                    let f = l0 + a * p[i] - d * q[i];
                    soft_l1((f - prep.y[i]) / prep.y[i], delta).0.powi(2)
                })
                .sum();
            if score.is_finite() {
                let mut theta = vec![l0, a, alpha, d];
                theta.extend_from_slice(nl);
                cands.push((score, theta));
            }
        }
    }
    cands.sort_by(|x, y| x.0.total_cmp(&y.0));
    cands.into_iter().take(STARTS).map(|c| c.1).collect()
}

/// min Σ((L0 + a·pᵢ − D·qᵢ − yᵢ)/yᵢ)² subject to 0 ≤ L0 ≤ cap, a ≥ 0, D ≥ 0, by trying every
/// pattern of active bounds (twelve 3×3-or-smaller solves on the normal equations).
fn bounded_linear(p: &[f64], q: &[f64], y: &[f64], cap: f64) -> Option<[f64; 3]> {
    let mut g = [[0.0; 3]; 3];
    let mut h = [0.0; 3];
    for i in 0..y.len() {
        let col = [1.0 / y[i], p[i] / y[i], -q[i] / y[i]];
        for r in 0..3 {
            h[r] += col[r];
            for c in 0..3 {
                g[r][c] += col[r] * col[c];
            }
        }
    }
    let sse = |x: &[f64; 3]| {
        let mut v = y.len() as f64;
        for r in 0..3 {
            v -= 2.0 * h[r] * x[r];
            for c in 0..3 {
                v += x[r] * g[r][c] * x[c];
            }
        }
        v
    };
    let tol = 1e-9;
    let mut best: Option<(f64, [f64; 3])> = None;
    for l0_mode in [None, Some(0.0), Some(cap)] {
        for a_mode in [None, Some(0.0)] {
            for d_mode in [None, Some(0.0)] {
                let modes = [l0_mode, a_mode, d_mode];
                let free: Vec<usize> = (0..3).filter(|&k| modes[k].is_none()).collect();
                let mut x = [0.0; 3];
                for k in 0..3 {
                    x[k] = modes[k].unwrap_or(0.0);
                }
                if !free.is_empty() {
                    let n = free.len();
                    let gm = DMatrix::from_fn(n, n, |r, c| g[free[r]][free[c]]);
                    let rhs = DVector::from_fn(n, |r, _| {
                        h[free[r]] - (0..3).map(|k| g[free[r]][k] * x[k]).sum::<f64>()
                    });
                    let Some(sol) = gm.lu().solve(&rhs) else {
                        continue;
                    };
                    for (r, &k) in free.iter().enumerate() {
                        x[k] = sol[r];
                    }
                }
                let feasible = x.iter().all(|v| v.is_finite())
                    && x[0] >= -tol * cap
                    && x[0] <= cap * (1.0 + tol)
                    && x[1] >= 0.0
                    && x[2] >= 0.0;
                if feasible {
                    let v = sse(&x);
                    if best.is_none_or(|b| v < b.0) {
                        best = Some((v, x));
                    }
                }
            }
        }
    }
    best.map(|b| b.1)
}

/// How one kernel parameter is reached from an unconstrained one: bounds by a smooth map
/// rather than by clipping, because the solver has no bounds of its own.
#[derive(Clone, Copy, Debug)]
enum Map {
    /// lo + (hi − lo)·sigmoid(u)
    Range(f64, f64),
    /// exp(ln lo + (ln hi − ln lo)·sigmoid(u)), for scales spanning decades
    LogRange(f64, f64),
    /// exp(u), for amplitudes ≥ 0 (u clamped to ±80 so nothing overflows)
    Exp,
}

fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u.clamp(-40.0, 40.0)).exp())
}

fn logit(f: f64) -> f64 {
    let f = f.clamp(1e-9, 1.0 - 1e-9);
    (f / (1.0 - f)).ln()
}

impl Map {
    /// θ and dθ/du.
    fn forward(self, u: f64) -> (f64, f64) {
        match self {
            Map::Range(lo, hi) => {
                let s = sigmoid(u);
                (
                    (lo + (hi - lo) * s).clamp(lo, hi),
                    (hi - lo) * s * (1.0 - s),
                )
            }
            Map::LogRange(lo, hi) => {
                let s = sigmoid(u);
                let span = (hi / lo).ln();
                let th = (lo.ln() + span * s).exp().clamp(lo, hi);
                (th, th * span * s * (1.0 - s))
            }
            Map::Exp => {
                let th = u.clamp(-80.0, 80.0).exp();
                (th, th)
            }
        }
    }

    fn inverse(self, th: f64) -> f64 {
        match self {
            Map::Range(lo, hi) => logit((th - lo) / (hi - lo)),
            Map::LogRange(lo, hi) => logit((th / lo).ln() / (hi / lo).ln()),
            Map::Exp => th.max(1e-300).ln().clamp(-80.0, 80.0),
        }
    }
}

fn maps(law: LawKind, cap: f64) -> Vec<Map> {
    let head = [
        Map::Range(0.0, cap),
        Map::Exp,
        Map::Range(ALPHA.0, ALPHA.1),
        Map::Exp,
    ];
    let tail: &[Map] = match law {
        LawKind::Tissue => &[Map::LogRange(TAU.0, TAU.1)],
        LawKind::MultiPower => &[
            Map::LogRange(MP_C.0, MP_C.1),
            Map::Range(BETA.0, BETA.1),
            Map::Range(GAMMA.0, GAMMA.1),
        ],
    };
    head.iter().chain(tail).copied().collect()
}

struct Problem<'a> {
    law: LawKind,
    prep: &'a Prepared,
    maps: &'a [Map],
    delta: f64,
    u: DVector<f64>,
}

impl Problem<'_> {
    fn theta(&self) -> Vec<f64> {
        self.maps
            .iter()
            .zip(self.u.iter())
            .map(|(m, &u)| m.forward(u).0)
            .collect()
    }
}

impl LeastSquaresProblem<f64, Dyn, Dyn> for Problem<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, u: &DVector<f64>) {
        self.u.copy_from(u);
    }

    fn params(&self) -> DVector<f64> {
        self.u.clone()
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        let theta = self.theta();
        let prep = self.prep;
        Some(DVector::from_fn(prep.len(), |i, _| {
            let f = kernel::eval(self.law, &theta, prep.ell[i], prep.terms(i), None);
            soft_l1((f - prep.y[i]) / prep.y[i], self.delta).0
        }))
    }

    fn jacobian(&self) -> Option<DMatrix<f64>> {
        let (theta, dtheta): (Vec<f64>, Vec<f64>) = self
            .maps
            .iter()
            .zip(self.u.iter())
            .map(|(m, &u)| m.forward(u))
            .unzip();
        let prep = self.prep;
        let n = theta.len();
        let mut jac = DMatrix::zeros(prep.len(), n);
        let mut g = vec![0.0; n];
        for i in 0..prep.len() {
            let f = kernel::eval(self.law, &theta, prep.ell[i], prep.terms(i), Some(&mut g));
            let (_, dpsi) = soft_l1((f - prep.y[i]) / prep.y[i], self.delta);
            let k = dpsi / prep.y[i];
            for c in 0..n {
                jac[(i, c)] = k * g[c] * dtheta[c];
            }
        }
        Some(jac)
    }
}
