//! The toy model's exact landscape for d = 2: losses over the weight plane (w₁, w₂) itself, with
//! the curve of zero training loss and the minimum-norm interpolant drawn on it.

use datasets::ToyProblem;

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
}
