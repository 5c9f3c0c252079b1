//! PCA of a trajectory of checkpoints without ever forming a P×P matrix: the T×T Gram matrix of
//! the centred checkpoints is accumulated block by block from the scratch files, diagonalised
//! with Jacobi rotations in f64, and the principal directions are recovered as
//! vᵢ = Xᵀuᵢ/√λᵢ in a second streamed pass. Memory is O(T² + T·block) besides the P-vectors
//! that are the result.

use rayon::prelude::*;

use super::scratch::Scratch;
use crate::TrainError;

/// f64 values of centred checkpoint data held per streamed block (64 MiB).
const BLOCK_BUDGET: usize = 8 << 20;

/// Parameters per block for `t` checkpoints of `p` parameters within [`BLOCK_BUDGET`].
pub fn block_len(t: usize, p: usize) -> usize {
    (BLOCK_BUDGET / t.max(1)).clamp(1024, p.max(1))
}

/// How many blocks one streamed pass over `p` parameters takes.
pub fn blocks(p: usize, block: usize) -> u64 {
    p.div_ceil(block.max(1)) as u64
}

/// Eigenvalues below this share of the largest count as zero: the checkpoints do not move
/// along that direction beyond f32 rounding of the weights.
const ZERO_EIGEN: f64 = 1e-12;

/// The principal components of a set of checkpoints.
pub struct Pca {
    /// Eigenvalues of the Gram matrix (sums of squares along each component), largest first,
    /// negative rounding clamped to zero.
    pub eigenvalues: Vec<f64>,
    /// Unit directions in parameter space, one per requested component. A component the
    /// checkpoints do not span (beyond the second) is all zeros.
    pub directions: Vec<Vec<f32>>,
    /// Coordinates of each checkpoint along each direction.
    pub coords: Vec<Vec<f64>>,
    /// ‖θₜ − mean‖² of each checkpoint.
    pub sq_norms: Vec<f64>,
}

impl Pca {
    /// Share of the total variance carried by each requested component.
    pub fn explained(&self) -> Vec<f64> {
        let total: f64 = self.eigenvalues.iter().sum();
        (0..self.directions.len())
            .map(|i| {
                if total > 0.0 {
                    self.eigenvalues[i] / total
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// Reads values `start..start + len` of every stored vector, minus the mean, into `rows`
/// (row t at `rows[t * stride..]`).
fn read_centred(
    s: &Scratch,
    mean: &[f64],
    start: usize,
    len: usize,
    stride: usize,
    rows: &mut [f64],
) -> Result<(), TrainError> {
    rows.par_chunks_mut(stride).enumerate().try_for_each_init(
        || vec![0.0f32; len],
        |buf, (t, row)| {
            s.read(t, start, buf)?;
            for ((r, &x), &m) in row
                .iter_mut()
                .zip(buf.iter())
                .zip(&mean[start..start + len])
            {
                *r = f64::from(x) - m;
            }
            Ok(())
        },
    )
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four partial sums let the compiler keep several vector lanes busy.
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// The T×T Gram matrix (row-major) of the stored vectors minus `mean`, streamed in blocks of
/// `block` parameters. `tick` is called after each block; it returns false to stop (then None).
pub fn gram(
    s: &Scratch,
    mean: &[f64],
    block: usize,
    tick: &mut dyn FnMut() -> bool,
) -> Result<Option<Vec<f64>>, TrainError> {
    let (t, p) = (s.len(), s.dim());
    let block = block.max(1);
    let mut g = vec![0.0f64; t * t];
    let mut rows = vec![0.0f64; t * block];
    let mut start = 0;
    while start < p {
        let len = block.min(p - start);
        read_centred(s, mean, start, len, block, &mut rows)?;
        let rows = &rows;
        // Lower triangle only; rayon balances the uneven row lengths.
        g.par_chunks_mut(t).enumerate().for_each(|(i, gi)| {
            let ri = &rows[i * block..i * block + len];
            for (j, gij) in gi.iter_mut().enumerate().take(i + 1) {
                *gij += dot(ri, &rows[j * block..j * block + len]);
            }
        });
        start += len;
        if !tick() {
            return Ok(None);
        }
    }
    for i in 0..t {
        for j in 0..i {
            g[j * t + i] = g[i * t + j];
        }
    }
    Ok(Some(g))
}

/// Eigen-decomposition of the symmetric n×n matrix `a` (row-major) by cyclic Jacobi rotations.
/// Returns the eigenvalues in descending order and the matching unit eigenvectors as the
/// columns of an n×n row-major matrix.
pub fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        // Off-diagonal mass at f64 rounding level of the whole matrix: converged.
        if off <= 1e-30 * scale || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                // The smaller rotation angle, written to stay accurate for large θ.
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vectors = vec![0.0f64; n * n];
    for (col, &i) in order.iter().enumerate() {
        for k in 0..n {
            vectors[k * n + col] = v[k * n + i];
        }
    }
    (values, vectors)
}

/// Σₜ coeffs[k][t]·(θₜ − mean) for every k, streamed in blocks: the directions in parameter
/// space that the T-vectors `coeffs` describe.
pub fn combine(
    s: &Scratch,
    mean: &[f64],
    coeffs: &[Vec<f64>],
    block: usize,
    tick: &mut dyn FnMut() -> bool,
) -> Result<Option<Vec<Vec<f32>>>, TrainError> {
    const CHUNK: usize = 4096;
    let (t, p) = (s.len(), s.dim());
    let block = block.max(1);
    let mut out = vec![vec![0.0f32; p]; coeffs.len()];
    let mut rows = vec![0.0f64; t * block];
    let mut start = 0;
    while start < p {
        let len = block.min(p - start);
        read_centred(s, mean, start, len, block, &mut rows)?;
        let rows = &rows;
        for (o, c) in out.iter_mut().zip(coeffs) {
            o[start..start + len]
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(ci, dst)| {
                    let off = ci * CHUNK;
                    let mut acc = vec![0.0f64; dst.len()];
                    for (ti, &w) in c.iter().enumerate() {
                        let src = &rows[ti * block + off..ti * block + off + dst.len()];
                        for (a, &x) in acc.iter_mut().zip(src) {
                            *a += w * x;
                        }
                    }
                    for (d, a) in dst.iter_mut().zip(acc) {
                        *d = a as f32;
                    }
                });
        }
        start += len;
        if !tick() {
            return Ok(None);
        }
    }
    Ok(Some(out))
}

/// The first `k` principal components (k ≥ 2) of the stored vectors around `mean`.
/// Fails when the checkpoints do not span two dimensions.
pub fn pca(
    s: &Scratch,
    mean: &[f64],
    k: usize,
    block: usize,
    tick: &mut dyn FnMut() -> bool,
) -> Result<Option<Pca>, TrainError> {
    let t = s.len();
    let Some(g) = gram(s, mean, block, tick)? else {
        return Ok(None);
    };
    let sq_norms: Vec<f64> = (0..t).map(|i| g[i * t + i]).collect();
    let (values, vectors) = jacobi_eigen(g, t);
    let eigenvalues: Vec<f64> = values.iter().map(|&l| l.max(0.0)).collect();
    let top = eigenvalues.first().copied().unwrap_or(0.0);
    let spans = |i: usize| eigenvalues.get(i).is_some_and(|&l| l > ZERO_EIGEN * top);
    if !(spans(0) && spans(1)) {
        return Err(TrainError::InvalidSpec(
            "the checkpoints do not span a plane (they coincide or lie on one line)".into(),
        ));
    }
    // uᵢ/√λᵢ maps the Gram eigenvector to a unit direction; a component the data does not span
    // gets zero weights, hence a zero direction and zero coordinates.
    let coeffs: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            let w = if spans(i) {
                1.0 / eigenvalues[i].sqrt()
            } else {
                0.0
            };
            (0..t).map(|r| vectors[r * t + i] * w).collect()
        })
        .collect();
    let Some(directions) = combine(s, mean, &coeffs, block, tick)? else {
        return Ok(None);
    };
    // θₜ·vᵢ = (G uᵢ)ₜ/√λᵢ = √λᵢ·uᵢ[t]: the coordinates come from the eigenvectors directly.
    let coords = (0..t)
        .map(|r| {
            (0..k)
                .map(|i| {
                    if spans(i) {
                        eigenvalues[i].sqrt() * vectors[r * t + i]
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    Ok(Some(Pca {
        eigenvalues,
        directions,
        coords,
        sq_norms,
    }))
}

/// Least-squares fit of z ≈ a + b·x + q·x², as [a, b, q]. Falls back to a line, then a constant,
/// when the x values are too few or too alike to pin down a parabola.
pub fn fit_quadratic(x: &[f64], z: &[f64]) -> [f64; 3] {
    // Scaling x to [-1, 1] keeps the normal equations well conditioned.
    let s = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let s = if s > 0.0 { s } else { 1.0 };
    for degree in (0..=2).rev() {
        let m = degree + 1;
        let mut ata = vec![0.0f64; m * m];
        let mut atz = vec![0.0f64; m];
        for (&xi, &zi) in x.iter().zip(z) {
            let u = xi / s;
            let basis = [1.0, u, u * u];
            for r in 0..m {
                atz[r] += basis[r] * zi;
                for c in 0..m {
                    ata[r * m + c] += basis[r] * basis[c];
                }
            }
        }
        if let Some(c) = solve(ata, atz, m) {
            let mut out = [0.0; 3];
            for (i, ci) in c.iter().enumerate() {
                out[i] = ci / s.powi(i as i32);
            }
            return out;
        }
    }
    [0.0; 3]
}

/// Solves the m×m system by Gaussian elimination with partial pivoting; None when singular.
pub fn solve(mut a: Vec<f64>, mut b: Vec<f64>, m: usize) -> Option<Vec<f64>> {
    let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    for col in 0..m {
        let piv =
            (col..m).max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))?;
        if a[piv * m + col].abs() <= 1e-12 * scale || scale == 0.0 {
            return None;
        }
        for c in 0..m {
            a.swap(col * m + c, piv * m + c);
        }
        b.swap(col, piv);
        for r in col + 1..m {
            let f = a[r * m + col] / a[col * m + col];
            for c in col..m {
                a[r * m + c] -= f * a[col * m + c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = vec![0.0f64; m];
    for r in (0..m).rev() {
        let s: f64 = (r + 1..m).map(|c| a[r * m + c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r * m + r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_with(rows: &[Vec<f32>]) -> (Scratch, Vec<f64>) {
        let parent = std::env::temp_dir().join("anneal-pca-tests");
        let mut s = Scratch::new(&parent, rows[0].len()).expect("scratch");
        let mut mean = vec![0.0f64; rows[0].len()];
        for r in rows {
            s.push(r).expect("push");
            for (m, &x) in mean.iter_mut().zip(r) {
                *m += f64::from(x) / rows.len() as f64;
            }
        }
        (s, mean)
    }

    /// Orthonormal e, f in R⁵ and points m + aₜe + bₜf with Σa² = 18, Σb² = 2, Σab = 0.
    fn plane_points() -> (Vec<Vec<f32>>, [f64; 5], [f64; 5]) {
        let e = [0.6, 0.0, 0.8, 0.0, 0.0];
        let f = [0.0, 0.6, 0.0, 0.0, -0.8];
        let m = [1.0, -2.0, 0.5, 3.0, 0.25];
        let ab = [(3.0, 0.0), (-3.0, 0.0), (0.0, 1.0), (0.0, -1.0)];
        let pts = ab
            .iter()
            .map(|&(a, b)| {
                (0..5)
                    .map(|i| (m[i] + a * e[i] + b * f[i]) as f32)
                    .collect()
            })
            .collect();
        (pts, e, f)
    }

    #[test]
    fn jacobi_finds_known_eigenpairs() {
        // [[2,1,0],[1,2,0],[0,0,5]]: eigenvalues 5, 3, 1 with (0,0,1), (1,1,0)/√2, (1,−1,0)/√2.
        let a = vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0];
        let (vals, vecs) = jacobi_eigen(a.clone(), 3);
        for (v, want) in vals.iter().zip([5.0, 3.0, 1.0]) {
            assert!((v - want).abs() < 1e-12, "{vals:?}");
        }
        let col = |k: usize| [vecs[k], vecs[3 + k], vecs[6 + k]];
        let r = 0.5f64.sqrt();
        assert!((col(0)[2].abs() - 1.0).abs() < 1e-12);
        assert!((col(1)[0].abs() - r).abs() < 1e-12 && (col(1)[0] - col(1)[1]).abs() < 1e-12);
        assert!((col(2)[0] + col(2)[1]).abs() < 1e-12);
        // A v = λ v for a denser matrix too.
        let n = 6;
        let b: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                ((i * j) as f64).sin() + (i + j) as f64 * 0.1
            })
            .collect();
        let (vals, vecs) = jacobi_eigen(b.clone(), n);
        for (k, &l) in vals.iter().enumerate() {
            for i in 0..n {
                let av: f64 = (0..n).map(|j| b[i * n + j] * vecs[j * n + k]).sum();
                assert!((av - l * vecs[i * n + k]).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn pca_recovers_a_known_plane() {
        let (pts, e, f) = plane_points();
        let (s, mean) = scratch_with(&pts);
        let got = pca(&s, &mean, 2, 5, &mut || true)
            .expect("pca")
            .expect("not stopped");
        let ev = got.explained();
        assert!(
            (ev[0] - 0.9).abs() < 1e-6 && (ev[1] - 0.1).abs() < 1e-6,
            "{ev:?}"
        );
        let along = |v: &[f32], u: &[f64; 5]| -> f64 {
            v.iter()
                .zip(u)
                .map(|(&a, &b)| f64::from(a) * b)
                .sum::<f64>()
        };
        assert!((along(&got.directions[0], &e).abs() - 1.0).abs() < 1e-6);
        assert!((along(&got.directions[1], &f).abs() - 1.0).abs() < 1e-6);
        // Checkpoint 0 sits at +3 along e, so ±3 on PC1; all lie on the plane.
        assert!((got.coords[0][0].abs() - 3.0).abs() < 1e-6);
        for (c, n2) in got.coords.iter().zip(&got.sq_norms) {
            assert!((n2 - c[0] * c[0] - c[1] * c[1]).abs() < 1e-9);
        }
    }

    #[test]
    fn block_size_does_not_change_the_gram_matrix() {
        let (pts, _, _) = plane_points();
        let (s, mean) = scratch_with(&pts);
        let mut ticks = 0;
        let small = gram(&s, &mean, 2, &mut || {
            ticks += 1;
            true
        })
        .expect("gram")
        .expect("not stopped");
        assert_eq!(ticks, 3, "5 parameters in blocks of 2");
        let one = gram(&s, &mean, 5, &mut || true)
            .expect("gram")
            .expect("not stopped");
        for (a, b) in small.iter().zip(&one) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!((one[0] - 9.0).abs() < 1e-5, "‖3e‖² = 9, got {}", one[0]);
        assert!(gram(&s, &mean, 2, &mut || false).expect("gram").is_none());
    }

    #[test]
    fn collinear_checkpoints_are_refused() {
        let pts: Vec<Vec<f32>> = (0..4)
            .map(|i| vec![i as f32, 2.0 * i as f32, 0.0])
            .collect();
        let (s, mean) = scratch_with(&pts);
        assert!(matches!(
            pca(&s, &mean, 2, 3, &mut || true),
            Err(TrainError::InvalidSpec(_))
        ));
    }

    #[test]
    fn quadratic_fit_recovers_a_parabola() {
        let x: Vec<f64> = (-5..=7).map(|i| f64::from(i) * 3.0).collect();
        let z: Vec<f64> = x.iter().map(|v| 0.5 + 0.2 * v - 0.3 * v * v).collect();
        let [a, b, q] = fit_quadratic(&x, &z);
        assert!((a - 0.5).abs() < 1e-9 && (b - 0.2).abs() < 1e-9 && (q + 0.3).abs() < 1e-9);
        // Two distinct x values only: a line through them.
        let [a, b, q] = fit_quadratic(&[1.0, 1.0, 3.0], &[2.0, 2.0, 6.0]);
        assert!(a.abs() < 1e-9 && (b - 2.0).abs() < 1e-9 && q == 0.0);
    }
}
