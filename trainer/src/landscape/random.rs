//! Filter-normalised random directions (Li et al. 2018, "Visualizing the Loss Landscape of
//! Neural Nets"): a Gaussian direction whose every filter is rescaled to the norm of the same
//! filter of the reference weights, so that the map's scale means the same for every layer
//! whatever its weight scale.
//!
//! A filter is one output unit's weights: for a convolution kernel [out, in, k, k] the slice of
//! one output channel, for a Burn linear weight [in, out] one column. One-dimensional
//! parameters (biases, BatchNorm scale and shift) get a zero direction, as in the paper's
//! `ignore='biasbn'` setting: they stay at the reference values everywhere on the map.

use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::scratch::Scratch;
use crate::TrainError;
use crate::toy::seeded_stream;

/// A Gaussian direction drawn from (`seed`, `stream`), normalised filter by filter to the
/// filters of `reference`, whose tensors have the `shapes` in flat order.
pub fn filter_normalised(
    seed: u64,
    stream: u64,
    reference: &[f32],
    shapes: &[Vec<usize>],
) -> Vec<f32> {
    let mut rng = seeded_stream(seed, stream);
    let mut d: Vec<f32> = (0..reference.len())
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            z as f32
        })
        .collect();
    let mut off = 0;
    for shape in shapes {
        let n: usize = shape.iter().product();
        let (dt, rt) = (&mut d[off..off + n], &reference[off..off + n]);
        off += n;
        match shape.len() {
            1 => dt.fill(0.0),
            2 => {
                // [in, out]: filter j is the strided column j.
                let cols = shape[1];
                for j in 0..cols {
                    let idx: Vec<usize> = (j..n).step_by(cols).collect();
                    rescale(dt, rt, &idx);
                }
            }
            _ => {
                // [out, ...] (convolutions), or any other shape as one filter per leading index.
                let per = n / shape[0].max(1);
                for f in 0..shape[0] {
                    let idx: Vec<usize> = (f * per..(f + 1) * per).collect();
                    rescale(dt, rt, &idx);
                }
            }
        }
    }
    d
}

/// d[idx] *= ‖r[idx]‖ / ‖d[idx]‖.
fn rescale(d: &mut [f32], r: &[f32], idx: &[usize]) {
    let norm = |v: &[f32]| {
        idx.iter()
            .map(|&i| f64::from(v[i]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (nd, nr) = (norm(d), norm(r));
    let k = if nd > 0.0 { nr / nd } else { 0.0 };
    for &i in idx {
        d[i] = (f64::from(d[i]) * k) as f32;
    }
}

/// Least-squares coordinates of a checkpoint on the two (generally non-orthogonal) directions.
pub struct Projection {
    pub x: f64,
    pub y: f64,
    /// Distance from the checkpoint to the plane.
    pub dist: f64,
    /// Distance from the checkpoint to the plane's centre.
    pub from_centre: f64,
}

/// Projects every stored checkpoint onto centre + span(d1, d2), streaming each file once.
/// `tick` runs after each checkpoint and returns false to stop (then None).
pub fn project(
    s: &Scratch,
    centre: &[f32],
    d1: &[f32],
    d2: &[f32],
    block: usize,
    tick: &mut dyn FnMut() -> bool,
) -> Result<Option<Vec<Projection>>, TrainError> {
    let dot = |a: &[f32], b: &[f32]| -> f64 {
        a.par_iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum()
    };
    let m = [dot(d1, d1), dot(d1, d2), dot(d2, d2)];
    let block = block.max(1);
    let mut buf = vec![0.0f32; block];
    let mut out = Vec::with_capacity(s.len());
    for t in 0..s.len() {
        // [d1·(θ−c), d2·(θ−c), ‖θ−c‖²]
        let mut acc = [0.0f64; 3];
        let mut start = 0;
        while start < s.dim() {
            let len = block.min(s.dim() - start);
            s.read(t, start, &mut buf[..len])?;
            let r = start..start + len;
            let part = buf[..len]
                .par_iter()
                .zip(&centre[r.clone()])
                .zip(&d1[r.clone()])
                .zip(&d2[r])
                .map(|(((&x, &c), &a), &b)| {
                    let v = f64::from(x) - f64::from(c);
                    [v * f64::from(a), v * f64::from(b), v * v]
                })
                .reduce(|| [0.0; 3], |p, q| [p[0] + q[0], p[1] + q[1], p[2] + q[2]]);
            for k in 0..3 {
                acc[k] += part[k];
            }
            start += len;
        }
        let (x, y) = super::pca::solve(vec![m[0], m[1], m[1], m[2]], vec![acc[0], acc[1]], 2)
            .map_or((0.0, 0.0), |c| (c[0], c[1]));
        // ‖r‖² = ‖θ−c‖² − (x·d1 + y·d2)·(θ−c) for the least-squares residual r.
        let dist = (acc[2] - x * acc[0] - y * acc[1]).max(0.0).sqrt();
        out.push(Projection {
            x,
            y,
            dist,
            from_centre: acc[2].sqrt(),
        });
        if !tick() {
            return Ok(None);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_the_reference_norms_and_biases_stay_put() {
        // A linear weight [in=3, out=2], its bias [2], and a conv kernel [2, 1, 2, 1].
        let shapes = vec![vec![3, 2], vec![2], vec![2, 1, 2, 1]];
        let reference = vec![
            1.0, 0.0, 2.0, 3.0, 2.0, 0.0, // columns (1,2,2) and (0,3,0)
            5.0, 6.0, // bias
            3.0, 4.0, 0.0, 0.5, // channels (3,4) and (0,0.5)
        ];
        let d = filter_normalised(7, 1, &reference, &shapes);
        let col = |j: usize| (0..3).map(|i| f64::from(d[i * 2 + j]).powi(2)).sum::<f64>();
        assert!((col(0).sqrt() - 3.0).abs() < 1e-5);
        assert!((col(1).sqrt() - 3.0).abs() < 1e-5);
        assert_eq!(&d[6..8], &[0.0, 0.0]);
        let ch = |c: usize| f64::from(d[8 + 2 * c]).hypot(f64::from(d[9 + 2 * c]));
        assert!((ch(0) - 5.0).abs() < 1e-5 && (ch(1) - 0.5).abs() < 1e-6);
        assert_eq!(d, filter_normalised(7, 1, &reference, &shapes));
        assert_ne!(d, filter_normalised(7, 2, &reference, &shapes));
    }

    #[test]
    fn projection_solves_for_non_orthogonal_directions() {
        let parent = std::env::temp_dir().join("anneal-random-tests");
        let mut s = Scratch::new(&parent, 3).expect("scratch");
        let c = [1.0f32, 1.0, 1.0];
        let (d1, d2) = ([1.0f32, 0.0, 0.0], [1.0f32, 1.0, 0.0]);
        // c + 2·d1 − 1·d2 + (0,0,3): coordinates (2, −1), distance 3.
        s.push(&[2.0, 0.0, 4.0]).expect("push");
        s.push(&c).expect("push");
        let p = project(&s, &c, &d1, &d2, 2, &mut || true)
            .expect("projects")
            .expect("not stopped");
        assert!((p[0].x - 2.0).abs() < 1e-9 && (p[0].y + 1.0).abs() < 1e-9);
        assert!((p[0].dist - 3.0).abs() < 1e-9);
        assert!(p[1].from_centre == 0.0 && p[1].dist == 0.0);
    }
}
