//! The paper's toy problem for the nonlinear model y = ‖w‖^γ·wᵀx: Gaussian inputs, a teacher
//! α*, and the exact minimum-norm interpolant α_mn = Xᵀ(XXᵀ)⁻¹y that SGD noise drifts towards.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::DataError;

/// An overparameterised (n < d) linear-regression instance, with the quantities the trainer
/// reports against.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyProblem {
    pub d: usize,
    pub n: usize,
    /// n×d row-major; rows ~ N(0, I/d).
    pub x: Vec<f64>,
    /// Clean labels Xα*; the trainer adds label noise per draw.
    pub y: Vec<f64>,
    /// The teacher, ~ N(0, I).
    pub alpha_star: Vec<f64>,
    /// The minimum-norm interpolant Xᵀ(XXᵀ)⁻¹y.
    pub alpha_mn: Vec<f64>,
    pub gamma: f64,
}

fn std_normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Lower-triangular L with G = LLᵀ, for symmetric positive-definite G (n×n, row-major).
fn cholesky(g: &[f64], n: usize, stop: &dyn Fn() -> bool) -> Result<Vec<f64>, DataError> {
    // Relative to the largest diagonal so the test does not depend on the data's scale; 1e-12
    // leaves ample room above f64 rounding while flagging truly dependent rows.
    let scale = (0..n).map(|i| g[i * n + i].abs()).fold(0.0, f64::max);
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        // O(n³) in all: a large problem must still answer a cancel within a row's work.
        if stop() {
            return Err(DataError::Stopped);
        }
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let pivot = g[i * n + i] - s;
                if !pivot.is_finite() || pivot <= 1e-12 * scale {
                    return Err(DataError::Singular { row: i, pivot });
                }
                l[i * n + i] = pivot.sqrt();
            } else {
                l[i * n + j] = (g[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Ok(l)
}

/// Solves LLᵀc = b by forward then back substitution.
fn cholesky_solve(l: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i * n + k] * z[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut c = vec![0.0; n];
    for i in (0..n).rev() {
        c[i] = (z[i] - (i + 1..n).map(|k| l[k * n + i] * c[k]).sum::<f64>()) / l[i * n + i];
    }
    c
}

impl ToyProblem {
    /// Draws X (rows ~ N(0, I/d)) and then α* (~ N(0, I)) from a ChaCha8 stream seeded with
    /// `seed`, sets y = Xα*, and solves for α_mn exactly.
    pub fn generate(d: usize, n: usize, gamma: f64, seed: u64) -> Result<Self, DataError> {
        Self::generate_until(d, n, gamma, seed, &|| false)
    }

    /// As `generate`, giving up with `DataError::Stopped` as soon as `stop()` says so: the
    /// minimum-norm solve of a large problem takes minutes, and a cancel must not wait for it.
    pub fn generate_until(
        d: usize,
        n: usize,
        gamma: f64,
        seed: u64,
        stop: &dyn Fn() -> bool,
    ) -> Result<Self, DataError> {
        check_shape(d, n, gamma)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let scale = 1.0 / (d as f64).sqrt();
        let x: Vec<f64> = (0..n * d).map(|_| scale * std_normal(&mut rng)).collect();
        let alpha_star: Vec<f64> = (0..d).map(|_| std_normal(&mut rng)).collect();
        let y: Vec<f64> = x.chunks_exact(d).map(|row| dot(row, &alpha_star)).collect();
        Self::build(d, n, gamma, x, y, alpha_star, stop)
    }

    /// The problem for given data, e.g. a hand-picked d = 2, n = 1 case for pictures.
    pub fn from_data(
        d: usize,
        n: usize,
        gamma: f64,
        x: Vec<f64>,
        y: Vec<f64>,
        alpha_star: Vec<f64>,
    ) -> Result<Self, DataError> {
        Self::build(d, n, gamma, x, y, alpha_star, &|| false)
    }

    fn build(
        d: usize,
        n: usize,
        gamma: f64,
        x: Vec<f64>,
        y: Vec<f64>,
        alpha_star: Vec<f64>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Self, DataError> {
        check_shape(d, n, gamma)?;
        if x.len() != n * d || y.len() != n || alpha_star.len() != d {
            return Err(DataError::Invalid(format!(
                "toy data of the wrong size: x has {} values (want n·d = {}), y has {} (want {n}), α* has {} (want {d})",
                x.len(),
                n * d,
                y.len(),
                alpha_star.len()
            )));
        }
        if x.iter()
            .chain(&y)
            .chain(&alpha_star)
            .any(|v| !v.is_finite())
        {
            return Err(DataError::Invalid("toy data must be finite".into()));
        }
        let alpha_mn = min_norm_interpolant(&x, &y, d, n, stop)?;
        Ok(Self {
            d,
            n,
            x,
            y,
            alpha_star,
            alpha_mn,
            gamma,
        })
    }

    /// The effective linear predictor α = ‖w‖^γ·w of weights w.
    pub fn alpha_of(&self, w: &[f64]) -> Vec<f64> {
        let s = norm(w).powf(self.gamma);
        w.iter().map(|v| v * s).collect()
    }

    /// The weights whose α is α_mn: ‖α_mn‖^(−γ/(γ+1))·α_mn (since ‖α‖ = ‖w‖^(γ+1)).
    pub fn w_mn(&self) -> Vec<f64> {
        let a = norm(&self.alpha_mn);
        if a == 0.0 {
            return self.alpha_mn.clone();
        }
        let s = a.powf(-self.gamma / (self.gamma + 1.0));
        self.alpha_mn.iter().map(|v| v * s).collect()
    }

    /// Population loss E½(αᵀx − α*ᵀx)² = ½‖α − α*‖²/d, because x ~ N(0, I/d).
    pub fn test_loss(&self, alpha: &[f64]) -> f64 {
        0.5 * sq_dist(alpha, &self.alpha_star) / self.d as f64
    }

    /// Mean over the n training rows of ½(αᵀxᵢ − yᵢ)², on the clean labels.
    pub fn train_loss(&self, alpha: &[f64]) -> f64 {
        let total: f64 = self
            .x
            .chunks_exact(self.d)
            .zip(&self.y)
            .map(|(row, y)| 0.5 * (dot(row, alpha) - y).powi(2))
            .sum();
        total / self.n as f64
    }

    /// ‖α − α_mn‖.
    pub fn dist_to_mn(&self, alpha: &[f64]) -> f64 {
        sq_dist(alpha, &self.alpha_mn).sqrt()
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn check_shape(d: usize, n: usize, gamma: f64) -> Result<(), DataError> {
    if n == 0 || n >= d {
        return Err(DataError::Invalid(format!(
            "the toy problem must be overparameterised with at least one sample, 1 ≤ n < d (got n = {n}, d = {d})"
        )));
    }
    if !gamma.is_finite() || gamma < 0.0 {
        return Err(DataError::Invalid(format!(
            "γ must be finite and ≥ 0 (got {gamma})"
        )));
    }
    Ok(())
}

/// α_mn = Xᵀc with (XXᵀ)c = y, via Cholesky of the n×n Gram matrix plus one step of
/// iterative refinement (which recovers the digits the Gram matrix's squared condition
/// number costs).
fn min_norm_interpolant(
    x: &[f64],
    y: &[f64],
    d: usize,
    n: usize,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<f64>, DataError> {
    let rows: Vec<&[f64]> = x.chunks_exact(d).collect();
    let mut gram = vec![0.0; n * n];
    for i in 0..n {
        if stop() {
            return Err(DataError::Stopped);
        }
        for j in 0..=i {
            let g = dot(rows[i], rows[j]);
            gram[i * n + j] = g;
            gram[j * n + i] = g;
        }
    }
    let l = cholesky(&gram, n, stop)?;
    let mut c = cholesky_solve(&l, y, n);
    let residual: Vec<f64> = (0..n)
        .map(|i| y[i] - dot(&gram[i * n..(i + 1) * n], &c))
        .collect();
    for (ci, di) in c.iter_mut().zip(cholesky_solve(&l, &residual, n)) {
        *ci += di;
    }
    Ok((0..d)
        .map(|j| (0..n).map(|i| c[i] * rows[i][j]).sum())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: &ToyProblem, i: usize) -> &[f64] {
        &p.x[i * p.d..(i + 1) * p.d]
    }

    /// z minus its projection onto the row space of X: a null-space vector of X.
    fn null_part(p: &ToyProblem, z: &[f64]) -> Vec<f64> {
        let xz: Vec<f64> = (0..p.n).map(|i| dot(row(p, i), z)).collect();
        let proj = min_norm_interpolant(&p.x, &xz, p.d, p.n, &|| false).expect("nonsingular");
        z.iter().zip(&proj).map(|(a, b)| a - b).collect()
    }

    #[test]
    fn a_long_solve_stops_when_asked() {
        let calls = std::cell::Cell::new(0u32);
        // Gives up partway through: after the Gram rows, inside the factorisation.
        let stop = || {
            calls.set(calls.get() + 1);
            calls.get() > 300
        };
        let r = ToyProblem::generate_until(400, 200, 1.0, 3, &stop);
        assert!(matches!(r, Err(DataError::Stopped)), "{r:?}");
        assert_eq!(
            calls.get(),
            301,
            "asked once per row, and no more after stopping"
        );
        assert!(ToyProblem::generate_until(400, 200, 1.0, 3, &|| false).is_ok());
    }

    #[test]
    fn min_norm_interpolates() {
        let p = ToyProblem::generate(50, 10, 1.0, 3).expect("generates");
        for i in 0..p.n {
            let r = dot(row(&p, i), &p.alpha_mn) - p.y[i];
            assert!(r.abs() < 1e-10, "row {i}: residual {r}");
        }
        assert!(p.train_loss(&p.alpha_mn) < 1e-20);
        assert!(
            p.train_loss(&p.alpha_star) < 1e-20,
            "α* interpolates the clean labels too"
        );
    }

    #[test]
    fn min_norm_lies_in_the_row_space_and_is_shortest() {
        let p = ToyProblem::generate(40, 7, 1.0, 11).expect("generates");
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        for _ in 0..5 {
            let z: Vec<f64> = (0..p.d).map(|_| std_normal(&mut rng)).collect();
            let v = null_part(&p, &z);
            assert!(
                (0..p.n).all(|i| dot(row(&p, i), &v).abs() < 1e-10),
                "v must be in the null space"
            );
            assert!(
                dot(&p.alpha_mn, &v).abs() < 1e-9 * norm(&v),
                "α_mn must be orthogonal to the null space"
            );
            // Every other interpolant α_mn + v is longer.
            let other: Vec<f64> = p.alpha_mn.iter().zip(&v).map(|(a, b)| a + b).collect();
            assert!(p.train_loss(&other) < 1e-18 && norm(&other) > norm(&p.alpha_mn));
        }
        // α_mn is the projection of α* onto the row space: α* − α_mn is in the null space.
        let gap: Vec<f64> = p
            .alpha_star
            .iter()
            .zip(&p.alpha_mn)
            .map(|(a, b)| a - b)
            .collect();
        assert!((0..p.n).all(|i| dot(row(&p, i), &gap).abs() < 1e-10));
        assert!(norm(&p.alpha_mn) < norm(&p.alpha_star));
    }

    #[test]
    fn inputs_have_the_stated_distribution_and_seed_fixes_everything() {
        let p = ToyProblem::generate(400, 200, 0.0, 5).expect("generates");
        let var_x = dot(&p.x, &p.x) / p.x.len() as f64;
        assert!(
            (var_x * p.d as f64 - 1.0).abs() < 0.02,
            "E x² should be 1/d, got {var_x}"
        );
        let var_a = dot(&p.alpha_star, &p.alpha_star) / p.d as f64;
        assert!((var_a - 1.0).abs() < 0.2, "E α*² should be 1, got {var_a}");
        assert_eq!(
            p,
            ToyProblem::generate(400, 200, 0.0, 5).expect("same seed")
        );
        assert_ne!(
            p.x,
            ToyProblem::generate(400, 200, 0.0, 6)
                .expect("other seed")
                .x
        );
    }

    #[test]
    fn hand_checked_two_dimensional_case() {
        // d = 2, n = 1, x = (3, 4), y = 10: α_mn = x·y/‖x‖² = (1.2, 1.6), ‖α_mn‖ = 2.
        let p = ToyProblem::from_data(2, 1, 1.0, vec![3.0, 4.0], vec![10.0], vec![0.0, 2.5])
            .expect("valid");
        assert!(
            (p.alpha_mn[0] - 1.2).abs() < 1e-12 && (p.alpha_mn[1] - 1.6).abs() < 1e-12,
            "{:?}",
            p.alpha_mn
        );
        // Test loss vs α* = (0, 2.5): ½·(1.44 + 0.81)/2 = 0.5625.
        assert!((p.test_loss(&p.alpha_mn) - 0.5625).abs() < 1e-12);
        // Train loss of α = 0: ½·10² = 50.
        assert!((p.train_loss(&[0.0, 0.0]) - 50.0).abs() < 1e-12);
        // γ = 1: w_mn = ‖α_mn‖^(−1/2)·α_mn = (1.2, 1.6)/√2, and ‖w_mn‖·w_mn = α_mn.
        let w = p.w_mn();
        assert!(
            (w[0] - 1.2 / 2f64.sqrt()).abs() < 1e-12 && (w[1] - 1.6 / 2f64.sqrt()).abs() < 1e-12
        );
        assert!((p.dist_to_mn(&[1.2, 2.6]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn w_mn_maps_back_to_alpha_mn() {
        for gamma in [0.0, 0.5, 1.0, 2.0, 3.7] {
            let p = ToyProblem::generate(30, 5, gamma, 4).expect("generates");
            let back = p.alpha_of(&p.w_mn());
            assert!(
                p.dist_to_mn(&back) < 1e-10 * norm(&p.alpha_mn),
                "γ = {gamma}"
            );
        }
        let p = ToyProblem::generate(30, 5, 1.0, 4).expect("generates");
        assert!((p.test_loss(&p.alpha_star)).abs() < 1e-15);
    }

    #[test]
    fn bad_shapes_and_singular_data_are_errors() {
        for (d, n) in [(10, 10), (10, 0), (3, 7)] {
            let err = ToyProblem::generate(d, n, 1.0, 0).expect_err("invalid shape");
            assert!(err.to_string().contains("1 ≤ n < d"), "{err}");
        }
        for gamma in [f64::NAN, -0.5, f64::INFINITY] {
            assert!(matches!(
                ToyProblem::generate(10, 2, gamma, 0),
                Err(DataError::Invalid(_))
            ));
        }
        // Two identical rows: XXᵀ is singular.
        let err = ToyProblem::from_data(
            3,
            2,
            1.0,
            vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
            vec![1.0, 1.0],
            vec![0.0; 3],
        )
        .expect_err("dependent rows");
        assert!(matches!(err, DataError::Singular { row: 1, .. }), "{err}");
        assert!(err.to_string().contains("linearly dependent"), "{err}");
        assert!(matches!(
            ToyProblem::from_data(3, 1, 1.0, vec![1.0, 2.0], vec![1.0], vec![0.0; 3]),
            Err(DataError::Invalid(_))
        ));
    }
}
