//! The map's surface in parameter space (a plane, or the curved PCA sheet), its axes, and the
//! evaluation of a network at every grid point.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use rayon::prelude::*;

use super::Reporter;
use crate::net::flat::unflatten;
use crate::net::model::{Head, Net};
use crate::net::train::EvalSet;

/// centre + x·d1 + y·d2, lifted along `lift.0` by a + b·x + q·x² for the curved sheet.
pub struct Sheet {
    pub centre: Vec<f32>,
    pub d1: Vec<f32>,
    pub d2: Vec<f32>,
    pub lift: Option<(Vec<f32>, [f64; 3])>,
}

impl Sheet {
    /// The parameters at map coordinates (x, y), written into `out`.
    pub fn point(&self, x: f64, y: f64, out: &mut [f32]) {
        const CHUNK: usize = 1 << 14;
        let (x, y) = (x as f32, y as f32);
        let z = self.lift.as_ref().map_or(0.0, |(_, [a, b, q])| {
            (a + b * f64::from(x) + q * f64::from(x).powi(2)) as f32
        });
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, o)| {
            let r = ci * CHUNK..ci * CHUNK + o.len();
            let (c, u, v) = (
                &self.centre[r.clone()],
                &self.d1[r.clone()],
                &self.d2[r.clone()],
            );
            for (((o, &c), &u), &v) in o.iter_mut().zip(c).zip(u).zip(v) {
                *o = c + x * u + y * v;
            }
            if let Some((w, _)) = &self.lift {
                for (ok, &wk) in o.iter_mut().zip(&w[r]) {
                    *ok += z * wk;
                }
            }
        });
    }
}

impl Sheet {
    /// Weights of centre, d1, d2 (and the lift direction) at map coordinates (x, y).
    fn coefficients(&self, x: f64, y: f64) -> [f32; 4] {
        let z = self
            .lift
            .as_ref()
            .map_or(0.0, |(_, [a, b, q])| a + b * x + q * x * x);
        [1.0, x as f32, y as f32, z as f32]
    }
}

/// For a network that starts with a dense layer (the MLPs), that layer's output is affine in
/// the sheet's coefficients: X·W(x, y) + b(x, y) = Σₖ cₖ·(X·Wₖ + bₖ) over centre, d1, d2 and
/// the lift. Those products are computed once per split; each grid point then only combines
/// them and runs the remaining layers, which skips the largest matrix product of the network.
struct FirstLayer<B: Backend> {
    train: Vec<Vec<Tensor<B, 2>>>,
    test: Vec<Vec<Tensor<B, 2>>>,
}

impl<B: Backend> FirstLayer<B> {
    fn new(model: &Net<B>, sheet: &Sheet, train: &EvalSet<B>, test: &EvalSet<B>) -> Option<Self> {
        if !model.features.is_empty() || !matches!(model.head.first(), Some(Head::Linear(_))) {
            return None;
        }
        let mut parts: Vec<&[f32]> = vec![&sheet.centre, &sheet.d1, &sheet.d2];
        if let Some((w, _)) = &sheet.lift {
            parts.push(w);
        }
        let firsts: Vec<_> = parts
            .iter()
            .filter_map(
                |p| match unflatten(model.clone(), p).head.into_iter().next() {
                    Some(Head::Linear(l)) => Some(l),
                    _ => None,
                },
            )
            .collect();
        let products = |set: &EvalSet<B>| -> Vec<Vec<Tensor<B, 2>>> {
            set.inputs()
                .map(|x| {
                    let flat: Tensor<B, 2> = x.clone().flatten(1, 3);
                    firsts.iter().map(|l| l.forward(flat.clone())).collect()
                })
                .collect()
        };
        Some(Self {
            train: products(train),
            test: products(test),
        })
    }

    fn combine(&self, products: &[Tensor<B, 2>], c: [f32; 4]) -> Tensor<B, 2> {
        let mut out = products[0].clone();
        for (p, &ck) in products.iter().zip(&c).skip(1) {
            out = out + p.clone().mul_scalar(ck);
        }
        out
    }
}

/// `g` evenly spaced values covering `values` plus `margin`·range on each side. A degenerate
/// range (all values equal) becomes one unit either side, so the map still has extent.
pub fn axis(values: impl Iterator<Item = f64>, margin: f64, g: usize) -> Vec<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    let (lo, hi) = if !lo.is_finite() {
        (-1.0, 1.0)
    } else if hi - lo <= f64::EPSILON * lo.abs().max(hi.abs()).max(1.0) {
        (lo - 1.0, hi + 1.0)
    } else {
        let pad = margin * (hi - lo);
        (lo - pad, hi + pad)
    };
    if g < 2 {
        return vec![(lo + hi) / 2.0];
    }
    (0..g)
        .map(|i| lo + (hi - lo) * i as f64 / (g - 1) as f64)
        .collect()
}

/// Loss and accuracy grids, indexed [iy][ix].
pub struct Grids {
    pub train_loss: Vec<Vec<Option<f64>>>,
    pub test_loss: Vec<Vec<Option<f64>>>,
    pub train_acc: Vec<Vec<Option<f64>>>,
    pub test_acc: Vec<Vec<Option<f64>>>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Evaluates `model` with its weights set to every grid point of `sheet`, after `refresh`
/// (batch norm's statistics recomputed for those weights) when given. None when stopped.
#[expect(
    clippy::too_many_arguments,
    reason = "the grid, its data and its progress, spelled out"
)]
pub fn evaluate_grid<B: Backend>(
    mut model: Net<B>,
    refresh: Option<&dyn Fn(Net<B>) -> Net<B>>,
    sheet: &Sheet,
    xs: &[f64],
    ys: &[f64],
    train: &EvalSet<B>,
    test: &EvalSet<B>,
    report: &mut Reporter<'_>,
) -> Option<Grids> {
    let total = (xs.len() * ys.len()) as u64;
    let row = || vec![None; xs.len()];
    let mut g = Grids {
        train_loss: vec![row(); ys.len()],
        test_loss: vec![row(); ys.len()],
        train_acc: vec![row(); ys.len()],
        test_acc: vec![row(); ys.len()],
    };
    let mut w = vec![0.0f32; sheet.centre.len()];
    let mut done = 0u64;
    if !report.tick("grid", done, total) {
        return None;
    }
    let factored = FirstLayer::new(&model, sheet, train, test);
    for (iy, &y) in ys.iter().enumerate() {
        for (ix, &x) in xs.iter().enumerate() {
            sheet.point(x, y, &mut w);
            model = unflatten(model, &w);
            if let Some(refresh) = refresh {
                model = refresh(model);
            }
            let ((tl, ta), (vl, va)) = match &factored {
                Some(f) => {
                    let c = sheet.coefficients(x, y);
                    (
                        train.evaluate_with(|i, _| model.head_from(f.combine(&f.train[i], c), 1)),
                        test.evaluate_with(|i, _| model.head_from(f.combine(&f.test[i], c), 1)),
                    )
                }
                None => (train.evaluate(&model), test.evaluate(&model)),
            };
            // An overflowed loss makes the accuracy meaningless too.
            g.train_loss[iy][ix] = finite(tl);
            g.train_acc[iy][ix] = finite(tl).and(finite(ta));
            g.test_loss[iy][ix] = finite(vl);
            g.test_acc[iy][ix] = finite(vl).and(finite(va));
            done += 1;
            if !report.tick("grid", done, total) {
                return None;
            }
        }
    }
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_adds_margin_and_survives_a_point() {
        let a = axis([1.0, 3.0, 2.0].into_iter(), 0.25, 5);
        assert_eq!(a, vec![0.5, 1.25, 2.0, 2.75, 3.5]);
        let flat = axis([2.0, 2.0].into_iter(), 0.25, 3);
        assert_eq!(flat, vec![1.0, 2.0, 3.0]);
        assert_eq!(axis(std::iter::empty(), 0.5, 3), vec![-1.0, 0.0, 1.0]);
    }

    #[test]
    fn sheet_points_follow_the_lift() {
        let s = Sheet {
            centre: vec![1.0, 1.0, 1.0],
            d1: vec![1.0, 0.0, 0.0],
            d2: vec![0.0, 1.0, 0.0],
            lift: Some((vec![0.0, 0.0, 1.0], [0.5, 1.0, 2.0])),
        };
        let mut out = [0.0f32; 3];
        s.point(2.0, -1.0, &mut out);
        // z = 0.5 + 2 + 2·4 = 10.5
        assert_eq!(out, [3.0, 0.0, 11.5]);
    }
}
