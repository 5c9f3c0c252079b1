//! The toy model's exact landscape for d = 2: losses over the weight plane (w₁, w₂) itself, with
//! the curve of zero training loss and the minimum-norm interpolant drawn on it.

use std::time::Instant;

use datasets::ToyProblem;
use domain::wire::{Landscape, PathProjection};
use experiment::ToySpec;
use experiment::landscape::LandscapeSpec;

use super::{LandscapeProgress, Reporter, ToyPathInput, grid, invalid};
use crate::{StopFlag, TrainError};

/// The toy model's exact landscape over (w₁, w₂), for d = 2. Ok(None) when the stop flag was
/// raised.
pub fn toy_landscape(
    toy: &ToySpec,
    data_seed: u64,
    ls: &LandscapeSpec,
    paths: &[ToyPathInput],
    progress: &mut dyn FnMut(LandscapeProgress),
    stop: &StopFlag,
) -> Result<Option<Landscape>, TrainError> {
    let started = Instant::now();
    invalid(ls)?;
    if toy.d != 2 {
        return Err(TrainError::InvalidSpec(
            "the exact landscape needs d = 2".into(),
        ));
    }
    let mut report = Reporter { progress, stop };
    // The same problem the run trained on (crate::toy::ToyJob draws it from the data seed).
    let problem = ToyProblem::generate(2, toy.n as usize, toy.gamma, data_seed)?;
    let w_mn = problem.w_mn();
    let w_mn = [w_mn[0], w_mn[1]];
    // w_mn is the manifold's point nearest the origin, so covering it keeps the closest part of
    // the zero-loss curve on the map.
    let coords = |k: usize| {
        paths
            .iter()
            .flat_map(move |p| p.points.iter().map(move |(_, w)| w[k]))
            .chain(std::iter::once(w_mn[k]))
    };
    let g = ls.grid as usize;
    let xs = grid::axis(coords(0), ls.margin, g);
    let ys = grid::axis(coords(1), ls.margin, g);
    let total = (g * g) as u64;
    let mut train_loss = Vec::with_capacity(g);
    let mut test_loss = Vec::with_capacity(g);
    if !report.tick("grid", 0, total) {
        return Ok(None);
    }
    for (iy, &y) in ys.iter().enumerate() {
        let mut tr = Vec::with_capacity(g);
        let mut te = Vec::with_capacity(g);
        for &x in &xs {
            let alpha = problem.alpha_of(&[x, y]);
            tr.push(Some(problem.train_loss(&alpha)).filter(|v| v.is_finite()));
            te.push(Some(problem.test_loss(&alpha)).filter(|v| v.is_finite()));
        }
        train_loss.push(tr);
        test_loss.push(te);
        // Each point is a handful of flops: one report per row is plenty.
        if !report.tick("grid", ((iy + 1) * g) as u64, total) {
            return Ok(None);
        }
    }
    let ends = |a: &[f64]| [a[0], a[a.len() - 1]];
    let manifold = manifold(&problem, ends(&xs), ends(&ys));
    let paths: Vec<PathProjection> = paths
        .iter()
        .map(|p| PathProjection {
            label: p.label.clone(),
            run_id: p.run_id.clone(),
            epochs: p.points.iter().map(|(e, _)| *e).collect(),
            x: p.points.iter().map(|(_, w)| w[0]).collect(),
            y: p.points.iter().map(|(_, w)| w[1]).collect(),
            // The map is the whole weight space: nothing lies off it.
            dist_to_plane: vec![0.0; p.points.len()],
        })
        .collect();
    Ok(Some(Landscape {
        method: ls.method.clone(),
        num_params: 2,
        num_checkpoints: paths_len(&paths),
        explained_variance: Vec::new(),
        x_label: "w₁".into(),
        y_label: "w₂".into(),
        xs,
        ys,
        train_loss,
        test_loss,
        train_acc: None,
        test_acc: None,
        paths,
        max_rel_projection_error: 0.0,
        manifold,
        w_mn: Some(w_mn),
        elapsed_secs: started.elapsed().as_secs_f64(),
        batch_norm: None,
    }))
}

fn paths_len(paths: &[PathProjection]) -> u32 {
    paths.iter().map(|p| p.x.len() as u32).sum()
}

/// Points along the zero-training-loss set inside the box [x0, x1]×[y0, y1], split into the
/// continuous pieces the box leaves visible.
///
/// With d = 2 the toy problem has n = 1 sample (x, y), so the set is ‖w‖^γ·wᵀx = y. Writing
/// w = r·(cos θ, sin θ) gives r^(γ+1)·(u_θᵀx) = y: one radius for every angle with
/// sign(u_θᵀx) = sign(y), i.e. a half-circle of directions, running off to infinity at its
/// ends. For y = 0 it is the line wᵀx = 0.
pub fn manifold(problem: &ToyProblem, bx: [f64; 2], by: [f64; 2]) -> Vec<Vec<[f64; 2]>> {
    const SAMPLES: usize = 4001;
    let (x, y) = ([problem.x[0], problem.x[1]], problem.y[0]);
    let xn = x[0].hypot(x[1]);
    let inside = |p: [f64; 2]| {
        p[0].is_finite()
            && p[1].is_finite()
            && (bx[0]..=bx[1]).contains(&p[0])
            && (by[0]..=by[1]).contains(&p[1])
    };
    let points: Vec<[f64; 2]> = if xn == 0.0 {
        // Every w fits y = 0 and none fits y ≠ 0: there is no curve to draw.
        Vec::new()
    } else if y == 0.0 {
        // wᵀx = 0: the line through the origin along x⊥, long enough to cross the whole box.
        let reach = bx[0]
            .abs()
            .max(bx[1].abs())
            .hypot(by[0].abs().max(by[1].abs()));
        let u = [-x[1] / xn, x[0] / xn];
        (0..SAMPLES)
            .map(|i| {
                let t = reach * (2.0 * i as f64 / (SAMPLES - 1) as f64 - 1.0);
                [t * u[0], t * u[1]]
            })
            .collect()
    } else {
        // Angles measured from sign(y)·x, where u_θᵀx has the sign of y; the open ends at ±π/2
        // are where the radius diverges.
        let phi = (y.signum() * x[1]).atan2(y.signum() * x[0]);
        let half = std::f64::consts::FRAC_PI_2;
        (1..SAMPLES - 1)
            .map(|i| {
                let a = half * (2.0 * i as f64 / (SAMPLES - 1) as f64 - 1.0);
                let r = (y.abs() / (xn * a.cos())).powf(1.0 / (problem.gamma + 1.0));
                let th = phi + a;
                [r * th.cos(), r * th.sin()]
            })
            .collect()
    };
    let mut pieces = Vec::new();
    let mut cur: Vec<[f64; 2]> = Vec::new();
    for p in points {
        if inside(p) {
            cur.push(p);
        } else if !cur.is_empty() {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    pieces.retain(|p| p.len() >= 2);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Metric;
    use experiment::landscape::LandscapeMethod;

    fn norm(p: [f64; 2]) -> f64 {
        p[0].hypot(p[1])
    }

    #[test]
    fn manifold_has_zero_loss_and_w_mn_is_its_shortest_point() {
        for (gamma, y) in [(1.0, 10.0), (0.5, -3.0), (2.0, 0.7)] {
            let p = ToyProblem::from_data(2, 1, gamma, vec![3.0, 4.0], vec![y], vec![0.0, 1.0])
                .expect("valid");
            let pieces = manifold(&p, [-20.0, 20.0], [-20.0, 20.0]);
            assert!(!pieces.is_empty());
            let w_mn = p.w_mn();
            let w_mn = [w_mn[0], w_mn[1]];
            assert!(p.train_loss(&p.alpha_of(&w_mn)) < 1e-20);
            for piece in &pieces {
                for &w in piece {
                    let l = p.train_loss(&p.alpha_of(&w));
                    assert!(l < 1e-18 * y * y, "γ = {gamma}: loss {l} at {w:?}");
                    assert!(norm(w) >= norm(w_mn) - 1e-12);
                }
            }
            // The sampled curve passes close to w_mn.
            let nearest = pieces
                .iter()
                .flatten()
                .map(|&w| norm([w[0] - w_mn[0], w[1] - w_mn[1]]))
                .fold(f64::INFINITY, f64::min);
            assert!(nearest < 0.01 * norm(w_mn), "γ = {gamma}: {nearest}");
        }
    }

    #[test]
    fn zero_label_gives_the_orthogonal_line() {
        let p = ToyProblem::from_data(2, 1, 1.0, vec![1.0, 0.0], vec![0.0], vec![0.0, 1.0])
            .expect("valid");
        let pieces = manifold(&p, [-1.0, 1.0], [-2.0, 2.0]);
        assert_eq!(pieces.len(), 1);
        assert!(pieces[0].iter().all(|w| w[0].abs() < 1e-12));
        let (lo, hi) = pieces[0]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), w| {
                (l.min(w[1]), h.max(w[1]))
            });
        assert!(lo < -1.99 && hi > 1.99);
    }

    fn toy_2d() -> ToySpec {
        ToySpec {
            d: 2,
            n: 1,
            ..ToySpec::paper_default()
        }
    }

    #[test]
    fn toy_landscape_is_exact_and_shows_the_manifold() {
        let toy = toy_2d();
        let ls = LandscapeSpec {
            grid: 5,
            margin: 0.5,
            method: LandscapeMethod::Pca,
        };
        let paths = [ToyPathInput {
            label: "main".into(),
            run_id: None,
            points: vec![(0.0, [0.3, -0.2]), (1.0, [1.0, 0.5])],
        }];
        let mut seen = Vec::new();
        let l = toy_landscape(
            &toy,
            4,
            &ls,
            &paths,
            &mut |p| seen.push(p),
            &StopFlag::new(),
        )
        .expect("computes")
        .expect("not stopped");
        let problem = ToyProblem::generate(2, 1, toy.gamma, 4).expect("problem");
        let w_mn = l.w_mn.expect("w_mn");
        assert!(problem.train_loss(&problem.alpha_of(&w_mn)) < 1e-20);
        assert!(l.xs[0] <= w_mn[0].min(0.3) && *l.xs.last().expect("xs") >= w_mn[0].max(1.0));
        assert!(!l.manifold.is_empty());
        for w in l.manifold.iter().flatten() {
            assert!(problem.train_loss(&problem.alpha_of(w)) < 1e-18);
            assert!(w[0].hypot(w[1]) >= w_mn[0].hypot(w_mn[1]) - 1e-12);
        }
        let a = problem.alpha_of(&[l.xs[3], l.ys[1]]);
        assert_eq!(l.train_loss[1][3], Some(problem.train_loss(&a)));
        assert_eq!(l.test_loss[1][3], Some(problem.test_loss(&a)));
        assert!(l.train_acc.is_none() && l.test_acc.is_none());
        assert_eq!((l.x_label.as_str(), l.y_label.as_str()), ("w₁", "w₂"));
        assert_eq!(l.paths[0].x, vec![0.3, 1.0]);
        assert_eq!(seen.last().map(|p| (p.done, p.total)), Some((25, 25)));

        let d3 = ToySpec { d: 3, ..toy_2d() };
        let err =
            toy_landscape(&d3, 4, &ls, &paths, &mut |_| {}, &StopFlag::new()).expect_err("d = 3");
        assert!(err.to_string().contains("d = 2"), "{err}");
        let stop = StopFlag::new();
        stop.raise();
        assert!(
            toy_landscape(&toy, 4, &ls, &paths, &mut |_| {}, &stop)
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn toy_rows_carry_the_weights_when_d_is_2() {
        let problem = ToyProblem::generate(2, 1, 1.0, 4).expect("problem");
        let m = crate::toy::toy_metrics(&problem, &[0.5, -1.5]);
        assert!(m.contains(&(Metric::W1, 0.5)) && m.contains(&(Metric::W2, -1.5)));
        let big = ToyProblem::generate(3, 1, 1.0, 4).expect("problem");
        assert!(
            !crate::toy::toy_metrics(&big, &[0.5, -1.5, 1.0])
                .iter()
                .any(|(k, _)| *k == Metric::W1)
        );
    }
}
