//! Tests of the loss laws: the sums by hand, recovery of known parameters from curves each law
//! generated (checked against straightforward per-step implementations of the papers'
//! formulas), prediction of held-out schedules, robustness, bounds, errors, serde, and a
//! noisy-quadratic toy run that neither law generated.

use super::fit::{ALPHA, BETA, GAMMA, MP_C, TAU};
use super::*;
use schedule::Schedule;

/// Deterministic standard normals (splitmix64 + Box–Muller), so noisy tests are reproducible.
struct Normal(u64);

impl Normal {
    fn next_u01(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn sample(&mut self) -> f64 {
        let (u, v) = (self.next_u01(), self.next_u01());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Tissue's law step by step, as the paper writes it (η₀ = η₁; no warmup in these traces).
fn tissue_exact(lrs: &[f64], lr_ref: f64, p: &[f64], steps: &[u64]) -> Vec<f64> {
    let (l0, a, alpha, c, lambda) = (p[0], p[1], p[2], p[3], p[4]);
    let mut at = vec![(0.0, 0.0); lrs.len() + 1]; // (S1, S2) after s steps
    let (mut s1, mut s2, mut m) = (0.0, 0.0, 0.0);
    for i in 0..lrs.len() {
        let eta = lrs[i] / lr_ref;
        let prev = if i == 0 { eta } else { lrs[i - 1] / lr_ref };
        m = lambda * m + (prev - eta);
        s1 += eta;
        s2 += m;
        at[i + 1] = (s1, s2);
    }
    steps
        .iter()
        .map(|&s| {
            let (s1, s2) = at[s as usize];
            l0 + a * s1.powf(-alpha) - c * s2
        })
        .collect()
}

/// The multi-power law by its definition, summing over every step (O(t) per point).
fn mpl_exact(lrs: &[f64], lr_ref: f64, p: &[f64], steps: &[u64]) -> Vec<f64> {
    let (l0, a, alpha, b, c, beta, gamma) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
    let eta: Vec<f64> = lrs.iter().map(|l| l / lr_ref).collect();
    let mut area = vec![0.0; eta.len() + 1];
    for i in 0..eta.len() {
        area[i + 1] = area[i] + eta[i];
    }
    steps
        .iter()
        .map(|&t| {
            let t = t as usize;
            let mut ld = 0.0;
            for k in 1..t {
                let d = eta[k - 1] - eta[k];
                if d != 0.0 {
                    let x = eta[k].powf(-gamma) * (area[t] - area[k]);
                    ld += d * (1.0 - (c * x + 1.0).powf(-beta));
                }
            }
            l0 + a * area[t].powf(-alpha) - b * ld
        })
        .collect()
}

fn exact(law: LawKind, lrs: &[f64], lr_ref: f64, p: &[f64], steps: &[u64]) -> Vec<f64> {
    match law {
        LawKind::Tissue => tissue_exact(lrs, lr_ref, p, steps),
        LawKind::MultiPower => mpl_exact(lrs, lr_ref, p, steps),
    }
}

fn lrs_of(s: &Schedule, n: u64) -> Vec<f64> {
    (0..n).map(|i| s.lr_at(i)).collect()
}

fn constant(lr: f64) -> Schedule {
    Schedule::Constant { lr }
}

fn decay_at(lr: f64, step: u64, factor: f64) -> Schedule {
    Schedule::DecayAt {
        lr,
        decay_step: step,
        factor,
        second_decay_step: None,
        second_factor: None,
    }
}

fn cosine(lr: f64, t_max: u64) -> Schedule {
    Schedule::Cosine {
        lr,
        t_max,
        eta_min: 0.0,
    }
}

fn every(step: u64, from: u64, to: u64) -> Vec<u64> {
    (from..=to).step_by(step as usize).collect()
}

fn with_noise(steps: &[u64], ys: &[f64], rel: f64, seed: u64) -> Vec<(u64, f64)> {
    let mut n = Normal(seed);
    steps
        .iter()
        .zip(ys)
        .map(|(&s, &y)| (s, y * (1.0 + rel * n.sample())))
        .collect()
}

fn max_rel_err(pred: &[f64], truth: &[f64]) -> f64 {
    assert_eq!(pred.len(), truth.len());
    pred.iter()
        .zip(truth)
        .map(|(p, t)| ((p - t) / t).abs())
        .fold(0.0, f64::max)
}

fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        ((got - want) / want).abs() <= rel,
        "{what}: got {got}, want {want} (±{:.1}%)",
        rel * 100.0
    );
}

/// Every bound `fit` documents.
fn assert_within_bounds(fit: &LawFit, unannealed_min: f64) {
    let p = |n: &str| fit.param(n).expect("parameter present");
    assert!(
        p("L0") >= 0.0 && p("L0") <= unannealed_min,
        "L0 {}",
        p("L0")
    );
    assert!(p("A") >= 0.0, "A {}", p("A"));
    assert!((ALPHA.0..=ALPHA.1).contains(&p("alpha")));
    assert!(p("C") >= 0.0, "C {}", p("C"));
    match fit.law {
        LawKind::Tissue => {
            let lambda = p("lambda");
            assert!((1.0 - 1.0 / TAU.0..=1.0 - 1.0 / TAU.1).contains(&lambda));
        }
        LawKind::MultiPower => {
            assert!(p("B") >= 0.0);
            assert!((MP_C.0..=MP_C.1).contains(&p("C")));
            assert!((BETA.0..=BETA.1).contains(&p("beta")));
            assert!((GAMMA.0..=GAMMA.1).contains(&p("gamma")));
        }
    }
    assert_eq!(fit.params.len(), fit.law.param_names().len());
    for ((n, _), want) in fit.params.iter().zip(fit.law.param_names()) {
        assert_eq!(n, want);
    }
}

#[test]
fn forward_areas_by_hand() {
    let t = LrTrace::from_lrs(vec![1.0, 1.0, 0.5, 0.5, 0.25]);
    assert_eq!(t.len(), 5);
    assert!(!t.is_empty());
    assert_eq!(t.peak(), 1.0);
    assert_eq!(t.warmup_steps(), 0);
    let areas: Vec<Option<f64>> = (0..=6).map(|s| t.forward_area(s)).collect();
    assert_eq!(
        areas,
        [
            Some(0.0),
            Some(1.0),
            Some(2.0),
            Some(2.5),
            Some(3.0),
            Some(3.25),
            None
        ]
    );
    let warm = LrTrace::from_lrs(vec![0.25, 0.5, 1.0, 1.0, f64::NAN, -1.0]);
    assert_eq!(warm.warmup_steps(), 2);
    assert_eq!(
        warm.forward_area(6),
        Some(2.75),
        "NaN and negative LRs count as 0"
    );
    assert!(LrTrace::from_lrs(Vec::new()).is_empty());
    let s = LrTrace::from_schedule(&decay_at(0.1, 2, 0.5), 4);
    assert_eq!(s.forward_area(4), Some(0.1 + 0.1 + 0.05 + 0.05));
}

#[test]
fn annealing_area_follows_the_momentum_recursion_by_hand() {
    // m₁ = 0, m₂ = 0 (η₁ − η₂ = 0), m₃ = 0.5, m₄ = 0.9·0.5 = 0.45, m₅ = 0.9·0.45 + 0.25 = 0.655.
    let t = LrTrace::from_lrs(vec![1.0, 1.0, 0.5, 0.5, 0.25]);
    let want = [0.0, 0.0, 0.0, 0.5, 0.95, 1.605];
    for (s, w) in want.iter().enumerate() {
        let got = t.annealing_area(s as u64, 0.9).expect("within the trace");
        assert!((got - w).abs() < 1e-12, "S2({s}) = {got}, want {w}");
    }
    assert_eq!(t.annealing_area(6, 0.9), None);
    // λ = 0: no memory, S₂ = Σ of the drops so far.
    assert!((t.annealing_area(5, 0.0).expect("in range") - 0.75).abs() < 1e-12);
    // Warmup increases are not annealing.
    let warm = LrTrace::from_lrs(vec![0.5, 1.0, 1.0, 0.5]);
    assert_eq!(warm.annealing_area(3, 0.9), Some(0.0));
    assert!((warm.annealing_area(4, 0.9).expect("in range") - 0.5).abs() < 1e-12);
}

#[test]
fn merged_sums_match_the_recursion_on_a_long_cosine() {
    let n = 50_000;
    let lrs = lrs_of(&cosine(0.1, n), n);
    let t = LrTrace::from_lrs(lrs.clone());
    let lambda = 0.995;
    let (mut m, mut s2) = (0.0, 0.0);
    let mut exact = vec![0.0];
    for i in 0..lrs.len() {
        let prev = if i == 0 { lrs[0] } else { lrs[i - 1] };
        m = lambda * m + (prev - lrs[i]);
        s2 += m;
        exact.push(s2);
    }
    for s in (1..=n).step_by(977) {
        let got = t.annealing_area(s, lambda).expect("in range");
        let want = exact[s as usize];
        assert!(
            (got - want).abs() <= 5e-4 * want.abs() + 1e-12,
            "S2({s}) = {got}, want {want}"
        );
    }
}

#[test]
fn warmup_enters_the_forward_area_only() {
    // Linear warmup to the peak, then constant: no annealing term, so both laws reduce to
    // L0 + A·S^(−alpha) with S counting the warmup's area.
    let mut lrs: Vec<f64> = (1..=100).map(|i| 0.001 * i as f64).collect();
    lrs.extend(std::iter::repeat_n(0.1, 900));
    let trace = LrTrace::from_lrs(lrs);
    assert_eq!(trace.warmup_steps(), 99);
    for law in LawKind::ALL {
        let mut params: Vec<(String, f64)> = law
            .param_names()
            .iter()
            .map(|n| ((*n).to_string(), 0.5))
            .collect();
        params[0].1 = 1.0;
        params[1].1 = 2.0;
        let fit = LawFit {
            law,
            params,
            rmse: 0.0,
            rel_rmse: 0.0,
            points: 0,
            converged: true,
            lr_ref: 0.1,
        };
        for s in [1, 50, 100, 500, 1000] {
            let area = trace.forward_area(s).expect("in range") / 0.1;
            let want = 1.0 + 2.0 * area.powf(-0.5);
            let got = fit.predict(&trace, &[s])[0];
            assert!(
                (got - want).abs() < 1e-12,
                "{law:?} at {s}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn dense_curves_are_thinned_keeping_the_start_the_tail_and_the_drop() {
    let n = 30_000;
    let trace = LrTrace::from_lrs(lrs_of(&decay_at(0.1, 20_000, 0.05), n));
    let pts: Vec<(usize, f64)> = (1..=n as usize)
        .map(|s| (s, 1.0 + 1.0 / s as f64))
        .collect();
    let kept = fit::downsample(&pts, &trace, MAX_POINTS_PER_CURVE);
    assert!(
        kept.len() <= MAX_POINTS_PER_CURVE && kept.len() > 250,
        "{}",
        kept.len()
    );
    assert!(kept.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(kept.first().map(|p| p.0), Some(1));
    assert_eq!(kept.last().map(|p| p.0), Some(n as usize));
    let after_drop = kept
        .iter()
        .filter(|p| (20_001..20_100).contains(&p.0))
        .count();
    assert!(
        after_drop >= 10,
        "{after_drop} points in the 100 steps after the decay"
    );
    let short = &pts[..200];
    assert_eq!(fit::downsample(short, &trace, MAX_POINTS_PER_CURVE), short);
    // The whole fit sees the thinned curves.
    let ys: Vec<(u64, f64)> = pts
        .iter()
        .map(|&(s, y)| {
            (
                s as u64,
                if s > 20_000 {
                    y - 0.1 * (1.0 - (-((s - 20_000) as f64) / 500.0).exp())
                } else {
                    y
                },
            )
        })
        .collect();
    let fitted = fit(
        LawKind::Tissue,
        &[Observed {
            lr: &trace,
            points: &ys,
        }],
    )
    .expect("fits");
    assert!(fitted.points <= MAX_POINTS_PER_CURVE);
}

/// Constant LR, a ×0.1 decay late in the run and a ×0.3 decay earlier (two decayed LRs, or
/// the multi-power law's C and gamma enter only as C·η^(−gamma)), and the held-out schedules:
/// a ×0.1 decay at another step, and a cosine.
struct Synthetic {
    train: Vec<(LrTrace, Vec<(u64, f64)>)>,
    held_out: Vec<(Vec<f64>, Vec<u64>)>,
}

fn synthetic(law: LawKind, truth: &[f64], noise: f64) -> Synthetic {
    let n = 10_000;
    let steps = every(50, 0, n);
    let mut train = Vec::new();
    for (i, s) in [
        constant(0.1),
        decay_at(0.1, 6_000, 0.1),
        decay_at(0.1, 4_000, 0.3),
    ]
    .iter()
    .enumerate()
    {
        let lrs = lrs_of(s, n);
        let nonzero: Vec<u64> = steps[1..].to_vec();
        let ys = exact(law, &lrs, 0.1, truth, &nonzero);
        let mut pts = vec![(0, 10.0)]; // an initial loss, which the laws skip
        pts.extend(with_noise(&nonzero, &ys, noise, 7 + i as u64));
        train.push((LrTrace::from_lrs(lrs), pts));
    }
    let held_out = [decay_at(0.1, 3_000, 0.1), cosine(0.1, n)]
        .iter()
        .map(|s| (lrs_of(s, n), every(50, 100, n)))
        .collect();
    Synthetic { train, held_out }
}

fn fit_synthetic(law: LawKind, data: &Synthetic) -> Result<LawFit, FitError> {
    let curves: Vec<Observed<'_>> = data
        .train
        .iter()
        .map(|(lr, pts)| Observed { lr, points: pts })
        .collect();
    fit(law, &curves)
}

const TISSUE_TRUTH: [f64; 5] = [2.0, 10.0, 0.4, 0.0025, 0.995];
const MPL_TRUTH: [f64; 7] = [2.0, 10.0, 0.4, 0.6, 0.05, 0.6, 0.5];

fn truth(law: LawKind) -> &'static [f64] {
    match law {
        LawKind::Tissue => &TISSUE_TRUTH,
        LawKind::MultiPower => &MPL_TRUTH,
    }
}

#[test]
fn each_law_recovers_its_own_parameters_without_noise() {
    for law in LawKind::ALL {
        let data = synthetic(law, truth(law), 0.0);
        let fit = fit_synthetic(law, &data).expect("fits");
        assert!(fit.rel_rmse < 1e-4, "{law:?}: rel rmse {}", fit.rel_rmse);
        for (name, &want) in law.param_names().iter().zip(truth(law)) {
            assert_close(
                &format!("{law:?} {name}"),
                fit.param(name).unwrap_or(f64::NAN),
                want,
                1e-3,
            );
        }
    }
}

/// How closely each parameter is recovered from the noisy curves (0.3 % noise). The
/// multi-power C and gamma trade off against each other (only C·η^(−gamma) is pinned by one
/// decayed LR, two pin them loosely); Tissue's lambda is compared as its memory 1/(1 − lambda).
fn noisy_tolerance(law: LawKind) -> &'static [f64] {
    match law {
        LawKind::Tissue => &[0.01, 0.01, 0.01, 0.05, 0.1],
        LawKind::MultiPower => &[0.01, 0.01, 0.01, 0.02, 0.25, 0.05, 0.1],
    }
}

fn assert_recovered(fit: &LawFit) {
    let law = fit.law;
    for ((name, &want), &tol) in law
        .param_names()
        .iter()
        .zip(truth(law))
        .zip(noisy_tolerance(law))
    {
        let got = fit.param(name).unwrap_or(f64::NAN);
        let (got, want) = if *name == "lambda" {
            (1.0 / (1.0 - got), 1.0 / (1.0 - want))
        } else {
            (got, want)
        };
        assert_close(&format!("{law:?} {name}"), got, want, tol);
    }
}

#[test]
fn each_law_fitted_on_noisy_curves_recovers_its_parameters_and_predicts_held_out_schedules() {
    for law in LawKind::ALL {
        let data = synthetic(law, truth(law), 0.003);
        let fit = fit_synthetic(law, &data).expect("fits");
        assert!(fit.converged, "{law:?}");
        assert_eq!(fit.points, 3 * 200);
        assert!(fit.rel_rmse < 0.004, "{law:?}: rel rmse {}", fit.rel_rmse);
        assert_recovered(&fit);
        for (lrs, steps) in &data.held_out {
            let want = exact(law, lrs, 0.1, truth(law), steps);
            let got = fit.predict(&LrTrace::from_lrs(lrs.clone()), steps);
            let err = max_rel_err(&got, &want);
            assert!(err < 0.005, "{law:?}: held-out max relative error {err}");
        }
        assert_within_bounds(&fit, min_unannealed(&data));
    }
}

fn min_unannealed(data: &Synthetic) -> f64 {
    // The constant curve is unannealed throughout, and the decayed one up to step 6,000.
    data.train
        .iter()
        .flat_map(|(lr, pts)| pts.iter().filter(|(s, _)| *s > 0 && lr.lr(s - 1) == 0.1))
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn one_outlier_does_not_pull_the_fit() {
    for law in LawKind::ALL {
        let mut data = synthetic(law, truth(law), 0.002);
        // A loss spike to three times the curve, just after the decay.
        let spike = &mut data.train[1].1[124];
        assert_eq!(spike.0, 6_200);
        spike.1 *= 3.0;
        let fit = fit_synthetic(law, &data).expect("fits");
        // Under plain least squares this one point would outweigh the other 599 together.
        assert_recovered(&fit);
        for (lrs, steps) in &data.held_out {
            let want = exact(law, lrs, 0.1, truth(law), steps);
            let got = fit.predict(&LrTrace::from_lrs(lrs.clone()), steps);
            let err = max_rel_err(&got, &want);
            assert!(err < 0.005, "{law:?}: held-out max relative error {err}");
        }
    }
}

#[test]
fn bounds_hold_when_the_data_wants_to_leave_them() {
    // After the decay the loss rises (an "anti-annealing" run) and ends below nothing seen
    // before: the annealing amplitude wants to be negative and must stop at 0.
    let n = 4_000;
    let steps = every(20, 20, n);
    let lrs_c = lrs_of(&constant(0.1), n);
    let lrs_d = lrs_of(&decay_at(0.1, 2_000, 0.1), n);
    let base = |s: u64| 1.0 + 3.0 * (s as f64 * 0.1).powf(-0.5);
    let main: Vec<(u64, f64)> = steps.iter().map(|&s| (s, base(s))).collect();
    let branch: Vec<(u64, f64)> = steps
        .iter()
        .map(|&s| {
            let up = if s > 2_000 {
                0.2 * (1.0 - (-(s as f64 - 2_000.0) / 300.0).exp())
            } else {
                0.0
            };
            (s, base(s) + up)
        })
        .collect();
    let (tc, td) = (LrTrace::from_lrs(lrs_c), LrTrace::from_lrs(lrs_d));
    let curves = [
        Observed {
            lr: &tc,
            points: &main,
        },
        Observed {
            lr: &td,
            points: &branch,
        },
    ];
    let min_loss = main.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    for law in LawKind::ALL {
        let fit = fit(law, &curves).expect("fits");
        assert_within_bounds(&fit, min_loss);
        let amp = match law {
            LawKind::Tissue => fit.param("C"),
            LawKind::MultiPower => fit.param("B"),
        };
        assert!(
            amp.unwrap_or(f64::NAN) < 1e-3,
            "{law:?}: annealing amplitude {amp:?}"
        );
    }
}

#[test]
fn fit_errors_say_what_is_missing() {
    let trace = LrTrace::from_lrs(lrs_of(&decay_at(0.1, 50, 0.1), 100));
    let flat = LrTrace::from_lrs(lrs_of(&constant(0.1), 100));
    let few = [(0, 5.0), (10, 3.0), (60, 2.0), (90, 1.9)];
    for law in LawKind::ALL {
        let need = 2 * law.param_names().len();
        assert_eq!(fit(law, &[]), Err(FitError::TooFewPoints { need, got: 0 }));
        assert_eq!(
            fit(
                law,
                &[Observed {
                    lr: &trace,
                    points: &few
                }]
            ),
            Err(FitError::TooFewPoints { need, got: 3 }),
            "step 0 is skipped"
        );
        let many: Vec<(u64, f64)> = (1..=100).map(|s| (s, 1.0 + 1.0 / s as f64)).collect();
        assert_eq!(
            fit(
                law,
                &[
                    Observed {
                        lr: &flat,
                        points: &many
                    },
                    Observed {
                        lr: &flat,
                        points: &many
                    }
                ]
            ),
            Err(FitError::NoAnnealing)
        );
        // The decay at step 50 is after every point: still nothing annealed.
        let early: Vec<(u64, f64)> = many[..50].to_vec();
        assert_eq!(
            fit(
                law,
                &[Observed {
                    lr: &trace,
                    points: &early
                }]
            ),
            Err(FitError::NoAnnealing)
        );
        let negative: Vec<(u64, f64)> = (1..=100).map(|s| (s, 1.0 - 0.1 * s as f64)).collect();
        assert!(matches!(
            fit(
                law,
                &[Observed {
                    lr: &trace,
                    points: &negative
                }]
            ),
            Err(FitError::Failed(_))
        ));
    }
    let messages = [
        FitError::TooFewPoints { need: 10, got: 3 }.to_string(),
        FitError::NoAnnealing.to_string(),
        FitError::Failed("x".into()).to_string(),
    ];
    assert!(messages[0].contains("10") && messages[0].contains('3'));
    assert!(messages[1].contains("annealing"));
    assert!(messages[2].ends_with('x'));
}

#[test]
fn a_fit_survives_json_and_predicts_the_same() {
    let law = LawKind::MultiPower;
    let data = synthetic(law, truth(law), 0.002);
    let fit = fit_synthetic(law, &data).expect("fits");
    let json = serde_json::to_string(&fit).expect("serialises");
    assert!(json.contains(r#""law":"multi_power""#), "{json}");
    let back: LawFit = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, fit);
    let (lrs, steps) = &data.held_out[1];
    let trace = LrTrace::from_lrs(lrs.clone());
    let a = fit.predict(&trace, steps);
    let b = back.predict(&trace, steps);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn predict_is_undefined_at_step_zero_and_past_the_trace() {
    let law = LawKind::Tissue;
    let data = synthetic(law, truth(law), 0.0);
    let fit = fit_synthetic(law, &data).expect("fits");
    let trace = LrTrace::from_lrs(lrs_of(&constant(0.1), 100));
    let got = fit.predict(&trace, &[0, 1, 100, 101]);
    assert!(got[0].is_nan() && got[3].is_nan());
    assert!(got[1].is_finite() && got[2].is_finite());
    assert!(got[1] > got[2], "the loss falls at constant LR");
}

#[test]
fn a_long_cosine_is_predicted_from_merged_changes_like_the_exact_sum() {
    let law = LawKind::MultiPower;
    let data = synthetic(law, truth(law), 0.0);
    let fit = fit_synthetic(law, &data).expect("fits");
    let n = 50_000;
    let lrs = lrs_of(&cosine(0.1, n), n);
    let trace = LrTrace::from_schedule(&cosine(0.1, n), n);
    assert_eq!(trace.len(), n);
    let steps: Vec<u64> = (1..=200).map(|k| k * n / 200).collect();
    let got = fit.predict(&trace, &steps);
    assert!(got.iter().all(|v| v.is_finite()));
    let params: Vec<f64> = fit.params.iter().map(|p| p.1).collect();
    let check: Vec<u64> = steps.iter().copied().step_by(10).collect();
    let want = mpl_exact(&lrs, fit.lr_ref, &params, &check);
    let sampled: Vec<f64> = got.iter().copied().step_by(10).collect();
    let err = max_rel_err(&sampled, &want);
    assert!(err < 1e-3, "bucketing error {err}");
}

/// The expected loss of SGD on a noisy quadratic with a power-law spectrum, computed exactly
/// per direction: a run neither law generated, with a loss floor that scales with the LR, like
/// the lab's toy model.
fn noisy_quadratic(lrs: &[f64], steps: &[u64]) -> Vec<f64> {
    let dims = 40;
    let h: Vec<f64> = (1..=dims).map(|k| (k as f64).powf(-1.6)).collect();
    let mut v = vec![1.0; dims];
    let noise = 0.5;
    let mut out = Vec::with_capacity(steps.len());
    let mut next = steps.iter().peekable();
    for s in 0..=lrs.len() {
        while next.peek().is_some_and(|&&t| t as usize == s) {
            out.push(0.05 + 0.5 * h.iter().zip(&v).map(|(h, v)| h * v).sum::<f64>());
            next.next();
        }
        if s == lrs.len() {
            break;
        }
        let eta = lrs[s];
        for (vk, hk) in v.iter_mut().zip(&h) {
            *vk = (1.0 - eta * hk).powi(2) * *vk + eta * eta * hk * noise;
        }
    }
    out
}

/// Lr 0.1 for 20,000 steps then 0.005 for 10,000, fitted jointly with the constant path,
/// predicts a decay at 5,000. Neither law is the truth here: Tissue's single exponential
/// memory is too slow for the fast part of the post-decay drop (≈ 9 % off 100 steps after
/// it), and both laws credit the late decay's extra forward area more than this quadratic
/// does, so they put the early decay's final loss a little high (Tissue ≈ 5 %, multi-power
/// ≈ 2.6 %). The bounds are those measured errors with some margin, so that a worse fit
/// fails.
#[test]
fn a_toy_run_decayed_late_predicts_an_early_decay() {
    let n = 30_000;
    let main_lrs = lrs_of(&constant(0.1), n);
    let branch_lrs = lrs_of(&decay_at(0.1, 20_000, 0.05), n);
    let main_steps = every(100, 0, n);
    let branch_steps = every(100, 20_000, n);
    let main = with_noise(
        &main_steps,
        &noisy_quadratic(&main_lrs, &main_steps),
        0.003,
        1,
    );
    let branch = with_noise(
        &branch_steps,
        &noisy_quadratic(&branch_lrs, &branch_steps),
        0.003,
        2,
    );
    let (tm, tb) = (LrTrace::from_lrs(main_lrs), LrTrace::from_lrs(branch_lrs));
    let curves = [
        Observed {
            lr: &tm,
            points: &main,
        },
        Observed {
            lr: &tb,
            points: &branch,
        },
    ];
    let early = lrs_of(&decay_at(0.1, 5_000, 0.05), n);
    let steps = every(100, 5_000, n);
    let want = noisy_quadratic(&early, &steps);
    let trace = LrTrace::from_lrs(early);
    let unannealed = main
        .iter()
        .skip(1)
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min);
    let bounds = [
        (LawKind::Tissue, 0.12, 0.07, 0.04),
        (LawKind::MultiPower, 0.04, 0.035, 0.01),
    ];
    for (law, max_err, final_err, misfit) in bounds {
        let fit = fit(law, &curves).expect("fits");
        assert!(fit.converged, "{law:?}");
        assert_within_bounds(&fit, unannealed);
        let got = fit.predict(&trace, &steps);
        let err = max_rel_err(&got, &want);
        assert!(
            err < max_err,
            "{law:?}: max relative error after the decay {err}"
        );
        let last = ((got[got.len() - 1] - want[want.len() - 1]) / want[want.len() - 1]).abs();
        assert!(
            last < final_err,
            "{law:?}: final-loss relative error {last}"
        );
        // The observed branch itself, from 1,000 steps after its decay (Tissue's too-slow
        // memory misses the first few hundred).
        let seen = fit.predict(&tb, &branch_steps[1..]);
        let truth = noisy_quadratic(&lrs_of(&decay_at(0.1, 20_000, 0.05), n), &branch_steps[1..]);
        let fit_err = max_rel_err(&seen[10..], &truth[10..]);
        assert!(
            fit_err < misfit,
            "{law:?}: branch misfit {fit_err} from 1,000 steps after its decay"
        );
    }
}
