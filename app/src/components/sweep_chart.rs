//! A sweep's Plotly figures: curves per role (main path, each decay point), as a mean with a
//! band when the sweep has several seeds; final metrics against the decay point and against
//! compute, with 95% intervals and each seed as a faint point. The figures are built as JSON
//! everywhere (and tested natively); only drawing them needs the browser.

use domain::Metric;
use domain::analysis::{BandPoint, BranchResult, BranchSummary, ema_debiased, mean_band};
use domain::law::LawKind;
use domain::prediction::{LawPrediction, SweepPrediction};
use domain::wire::{BASELINE_LABEL, RunMetrics, SweepReport, SweepRun, SweepSummary};
use serde_json::{Value, json};

use super::chart::{CURVE_POINTS, ChartOptions, XAxis};
use super::palette::{BASELINE, PALETTE, colour, rgba};

/// One figure: the div it goes in, its traces and its layout.
pub struct Figure {
    pub div: &'static str,
    pub traces: Value,
    pub layout: Value,
}

/// Every `stride`-th point and the last, so a band's three edges stay aligned.
fn thin<T: Clone>(v: &[T], max: usize) -> Vec<T> {
    if v.len() <= max {
        return v.to_vec();
    }
    let stride = v.len().div_ceil(max);
    let mut out: Vec<T> = v.iter().step_by(stride).cloned().collect();
    if !(v.len() - 1).is_multiple_of(stride)
        && let Some(last) = v.last()
    {
        out.push(last.clone());
    }
    out
}

/// A run's (step, x, y) rows of `key` on its own path (a branch from its branch point).
fn curve(
    sweep: &SweepSummary,
    m: &RunMetrics,
    key: Metric,
    opts: ChartOptions,
) -> Vec<(u64, f64, f64)> {
    let from_step = sweep.branch_from_step(m.run_id);
    let mut seconds = 0.0;
    let rows: Vec<(u64, f64, f64)> = m
        .points
        .iter()
        .filter_map(|p| {
            seconds += p.get(Metric::EpochSeconds).unwrap_or(0.0);
            let x = match opts.x {
                XAxis::Step => p.step as f64,
                XAxis::Epoch => p.epoch,
                XAxis::Seconds if seconds > 0.0 => seconds,
                XAxis::Seconds => p.step as f64,
            };
            p.get(key)
                .filter(|_| p.step >= from_step)
                .map(|v| (p.step, x, v))
        })
        .collect();
    // The LR is what the schedule set, not a noisy measurement: it is never smoothed.
    if key == Metric::Lr || opts.smoothing <= 0.0 {
        return rows;
    }
    let ys: Vec<f64> = rows.iter().map(|r| r.2).collect();
    let smooth = ema_debiased(&ys, opts.smoothing);
    rows.iter()
        .zip(smooth)
        .map(|(&(s, x, _), y)| (s, x, y))
        .collect()
}

/// The overlay of one metric: per role a line (one seed) or a mean with a band (several), and
/// with smoothing on, the raw curve faintly behind.
pub fn overlay(
    sweep: &SweepSummary,
    metrics: &[RunMetrics],
    key: Metric,
    opts: ChartOptions,
) -> Value {
    let seeds = sweep.seeds();
    let mut traces = Vec::new();
    // Each role (main path, decay points), then the schedule-free baseline in black.
    let mut groups: Vec<(String, &str, f64, Vec<&SweepRun>)> = sweep
        .roles()
        .into_iter()
        .enumerate()
        .map(|(i, role)| {
            (
                SweepSummary::role_label(role),
                colour(i),
                if role.is_none() { 3.0 } else { 1.5 },
                sweep.runs.iter().filter(|r| r.plays(role)).collect(),
            )
        })
        .collect();
    let baseline: Vec<&SweepRun> = sweep.runs.iter().filter(|r| r.baseline).collect();
    if !baseline.is_empty() {
        groups.push((BASELINE_LABEL.into(), BASELINE, 2.5, baseline));
    }
    for (name, color, width, members) in groups {
        let runs: Vec<&RunMetrics> = members
            .iter()
            .filter_map(|r| metrics.iter().find(|m| m.run_id == r.run.id))
            .collect();
        let curves: Vec<Vec<(u64, f64, f64)>> =
            runs.iter().map(|m| curve(sweep, m, key, opts)).collect();
        let raw_behind = opts.smoothing > 0.0 && key != Metric::Lr;
        if seeds.len() < 2 {
            for (m, c) in runs.iter().zip(&curves) {
                if raw_behind {
                    let raw = curve(
                        sweep,
                        m,
                        key,
                        ChartOptions {
                            smoothing: 0.0,
                            ..opts
                        },
                    );
                    traces.push(line(
                        &raw,
                        format!("{name} (raw)"),
                        color,
                        1.0,
                        0.25,
                        &name,
                        false,
                    ));
                }
                traces.push(line(c, name.clone(), color, width, 1.0, &name, true));
            }
            continue;
        }
        if opts.show_seeds {
            for (r, c) in members.iter().zip(&curves) {
                traces.push(line(
                    c,
                    format!("{name} · seed {}", r.seed),
                    color,
                    1.0,
                    0.3,
                    &name,
                    false,
                ));
            }
        }
        let band: Vec<BandPoint> = thin(&mean_band(&curves, opts.spread), CURVE_POINTS);
        if band.is_empty() {
            continue;
        }
        let xs: Vec<f64> = band.iter().map(|b| b.x).collect();
        let n = curves.len();
        traces.push(
            json!({"x": xs, "y": band.iter().map(|b| b.lo).collect::<Vec<_>>(),
            "mode": "lines", "line": {"width": 0}, "legendgroup": name, "showlegend": false,
            "hoverinfo": "skip", "name": format!("{name} band")}),
        );
        traces.push(json!({"x": xs, "y": band.iter().map(|b| b.hi).collect::<Vec<_>>(),
            "mode": "lines", "line": {"width": 0}, "fill": "tonexty", "fillcolor": rgba(color, 0.2),
            "legendgroup": name, "showlegend": false, "hoverinfo": "skip", "name": format!("{name} band")}));
        traces.push(
            json!({"x": xs, "y": band.iter().map(|b| b.mean).collect::<Vec<_>>(),
            "mode": "lines", "line": {"width": width, "color": color}, "legendgroup": name,
            "name": format!("{name} (mean of {n})")}),
        );
    }
    Value::Array(traces)
}

fn line(
    c: &[(u64, f64, f64)],
    name: String,
    color: &str,
    width: f64,
    opacity: f64,
    group: &str,
    legend: bool,
) -> Value {
    let xs: Vec<f64> = c.iter().map(|p| p.1).collect();
    let ys: Vec<f64> = c.iter().map(|p| p.2).collect();
    let (xs, ys) = domain::analysis::downsample(&xs, &ys, CURVE_POINTS);
    json!({"x": xs, "y": ys, "name": name, "mode": "lines", "opacity": opacity,
           "line": {"width": width, "color": color}, "legendgroup": group, "showlegend": legend})
}

/// Plotly error bars from a summary's 95% interval (none with one seed).
fn error_bars(bs: &[BranchSummary], m: Metric, scale: f64) -> Value {
    let (mut plus, mut minus) = (Vec::new(), Vec::new());
    for b in bs {
        let (p, q) = b
            .stat(m)
            .and_then(|s| {
                s.ci95
                    .map(|[lo, hi]| ((hi - s.mean) * scale, (s.mean - lo) * scale))
            })
            .unwrap_or((0.0, 0.0));
        plus.push(p);
        minus.push(q);
    }
    json!({"type": "data", "symmetric": false, "array": plus, "arrayminus": minus, "visible": true})
}

/// Each seed's final value as a faint point at its x.
fn seed_points(
    rs: &[BranchResult],
    m: Metric,
    x: impl Fn(&BranchResult) -> f64,
    axis: &str,
    color: &str,
) -> Value {
    let pts: Vec<(f64, f64, u64)> = rs
        .iter()
        .filter_map(|r| Some((x(r), r.get(m)?, r.seed)))
        .collect();
    json!({"x": pts.iter().map(|p| p.0).collect::<Vec<_>>(), "y": pts.iter().map(|p| p.1).collect::<Vec<_>>(),
           "text": pts.iter().map(|p| format!("seed {}", p.2)).collect::<Vec<_>>(),
           "mode": "markers", "marker": {"size": 6, "color": color, "opacity": 0.35},
           "yaxis": axis, "name": format!("{} per seed", m.key()), "showlegend": false})
}

/// Final metrics against the decay point: means joined by a line, 95% intervals, seeds faint.
pub fn final_vs_k(report: &SweepReport) -> Value {
    let bs = &report.branches;
    let ks: Vec<u64> = bs.iter().map(|b| b.k).collect();
    let several = report.seeds_finished() >= 2;
    let mean = if several { "mean " } else { "" };
    let mut traces = vec![
        json!({"x": ks, "y": bs.iter().map(|b| b.test_loss).collect::<Vec<_>>(),
        "error_y": error_bars(bs, Metric::TestLoss, 1.0), "line": {"color": PALETTE[0]},
        "name": format!("{mean}final test loss"), "mode": "lines+markers", "type": "scatter"}),
    ];
    if several {
        traces.push(seed_points(
            &report.per_seed,
            Metric::TestLoss,
            |r| r.k as f64,
            "y",
            PALETTE[0],
        ));
    }
    for (m, label) in [
        (Metric::TestAcc, "final test acc"),
        (Metric::DistMn, "final ‖α − α_mn‖"),
    ] {
        if bs.iter().any(|b| b.stat(m).is_some()) {
            traces.push(json!({"x": ks, "y": bs.iter().map(|b| b.stat(m).map(|s| s.mean)).collect::<Vec<_>>(),
                "error_y": error_bars(bs, m, 1.0), "line": {"color": PALETTE[1]},
                "name": format!("{mean}{label}"), "mode": "lines+markers", "yaxis": "y2"}));
            if several {
                traces.push(seed_points(
                    &report.per_seed,
                    m,
                    |r| r.k as f64,
                    "y2",
                    PALETTE[1],
                ));
            }
        }
    }
    // The schedule-free baseline never decays: a level across the decay points, with its
    // interval as a band.
    if let (Some(b), Some(first), Some(last)) = (&report.baseline, ks.first(), ks.last())
        && let Some(s) = b.stats.get(Metric::TestLoss.key())
    {
        let x = [*first, *last];
        if let Some([lo, hi]) = s.ci95 {
            traces.push(
                json!({"x": x, "y": [lo, lo], "mode": "lines", "line": {"width": 0},
                "showlegend": false, "hoverinfo": "skip", "legendgroup": BASELINE_LABEL}),
            );
            traces.push(
                json!({"x": x, "y": [hi, hi], "mode": "lines", "line": {"width": 0},
                "fill": "tonexty", "fillcolor": "rgba(0, 0, 0, 0.12)", "showlegend": false,
                "hoverinfo": "skip", "legendgroup": BASELINE_LABEL}),
            );
        }
        traces.push(json!({"x": x, "y": [s.mean, s.mean], "mode": "lines",
            "line": {"color": BASELINE, "dash": "dashdot", "width": 2},
            "legendgroup": BASELINE_LABEL,
            "name": format!("{mean}schedule-free baseline ({} {}s)", b.length, report.unit)}));
    }
    Value::Array(traces)
}

/// Final accuracy (networks) or test loss (toy) against compute, relative to the earliest
/// decay's run, with intervals, and the 1.2×, 1.5× and 2× budget marks as shapes.
pub fn final_vs_compute(report: &SweepReport) -> (Value, Value) {
    let bs = &report.branches;
    let base = bs.iter().map(|b| b.length).min().unwrap_or(1).max(1) as f64;
    let m = if bs.iter().any(|b| b.test_acc.is_some()) {
        Metric::TestAcc
    } else {
        Metric::TestLoss
    };
    let xs: Vec<f64> = bs.iter().map(|b| b.length as f64 / base).collect();
    let texts: Vec<String> = bs
        .iter()
        .map(|b| {
            let secs = b.seconds.map_or(String::new(), |s| {
                format!(" · {s:.0} s of branch training (mean)")
            });
            format!(
                "decay @ {} · {} {}s · {} seed(s){secs}",
                b.k, b.length, report.unit, b.n
            )
        })
        .collect();
    let mut traces = vec![
        json!({"x": xs, "y": bs.iter().map(|b| b.stat(m).map(|s| s.mean)).collect::<Vec<_>>(),
        "error_y": error_bars(bs, m, 1.0), "text": texts, "name": format!("final {}", m.key()),
        "mode": "lines+markers", "line": {"color": PALETTE[2]}}),
    ];
    if report.seeds_finished() >= 2 {
        traces.push(seed_points(
            &report.per_seed,
            m,
            |r| r.length as f64 / base,
            "y",
            PALETTE[2],
        ));
    }
    let marks = [1.2, 1.5, 2.0];
    let shapes: Vec<Value> = marks.iter().map(|x| json!({"type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1, "line": {"dash": "dot", "color": "#999"}})).collect();
    let notes: Vec<Value> = marks.iter().map(|x| json!({"x": x, "yref": "paper", "y": 1, "text": format!("{x}×"), "showarrow": false})).collect();
    (
        Value::Array(traces),
        json!({"shapes": shapes, "annotations": notes}),
    )
}

/// Each law's predicted curves, dashed in the colour of the branch they predict; laws that fit
/// badly are left out, so no confident curve is drawn where the page says the law fails.
pub fn predicted(
    sweep: &SweepSummary,
    p: &SweepPrediction,
    key: Metric,
    opts: ChartOptions,
) -> Vec<Value> {
    let roles = sweep.roles();
    let mut traces = Vec::new();
    let trusted = |l: &&LawPrediction| {
        l.fit.is_some()
            && if key == Metric::TrainLoss {
                !l.train_poor_fit
            } else {
                !l.poor_fit
            }
    };
    for law in p.laws.iter().filter(trusted) {
        let dash = match law.law {
            LawKind::Tissue => "dash",
            LawKind::MultiPower => "dot",
        };
        for (j, b) in law.branches.iter().enumerate() {
            let i = roles.iter().position(|r| *r == Some(b.k)).unwrap_or(0);
            let (xs, ys): (Vec<f64>, Vec<f64>) = b
                .curve
                .iter()
                .filter_map(|c| {
                    let y = if key == Metric::TrainLoss {
                        c.train_loss?
                    } else {
                        c.test_loss
                    };
                    let x = match opts.x {
                        XAxis::Epoch => c.epoch,
                        // Predictions have no seconds: they are drawn against steps.
                        XAxis::Step | XAxis::Seconds => c.step as f64,
                    };
                    Some((x, y))
                })
                .unzip();
            traces.push(json!({"x": xs, "y": ys, "mode": "lines",
                "name": format!("{} (predicted)", law.law.key()),
                "legendgroup": format!("prediction-{}", law.law.key()), "showlegend": j == 0,
                "meta": "prediction",
                "line": {"width": 2, "dash": dash, "color": colour(i)}}));
        }
    }
    traces
}

/// Every figure of a sweep page.
pub fn sweep_figures(
    sweep: &SweepSummary,
    metrics: &[RunMetrics],
    report: &SweepReport,
    opts: ChartOptions,
    prediction: Option<&SweepPrediction>,
) -> Vec<Figure> {
    let x_title = match opts.x {
        XAxis::Step => "step",
        XAxis::Epoch => "epoch",
        XAxis::Seconds => "training seconds (steps for the toy model)",
    };
    let layout = |x: &str, log: bool| {
        json!({
            "margin": {"l": 60, "r": 10, "t": 10, "b": 40}, "height": 300,
            "xaxis": {"title": {"text": x}}, "yaxis": {"type": if log { "log" } else { "linear" }, "exponentformat": "e"},
            "legend": {"orientation": "h", "y": 1.2}, "hovermode": "closest",
        })
    };
    let toy = matches!(sweep.spec.main.experiment, experiment::Experiment::Toy(_));
    let norm_key = if toy { Metric::DistMn } else { Metric::WNorm };
    let mut out = Vec::new();
    let mut curves = vec![
        ("sweep-test-loss", Metric::TestLoss, opts.log_y),
        ("sweep-train-loss", Metric::TrainLoss, opts.log_y),
        ("sweep-lr", Metric::Lr, opts.log_y),
        ("sweep-norm", norm_key, false),
    ];
    if !toy {
        curves.push(("sweep-test-acc", Metric::TestAcc, false));
    }
    for (div, key, log) in curves {
        let mut traces = overlay(sweep, metrics, key, opts);
        if let (Some(p), Value::Array(ts)) = (prediction, &mut traces)
            && matches!(key, Metric::TestLoss | Metric::TrainLoss)
        {
            ts.extend(predicted(sweep, p, key, opts));
        }
        out.push(Figure {
            div,
            traces,
            layout: layout(x_title, log),
        });
    }
    let mut fl = layout(if toy { "decay step k" } else { "decay epoch k" }, false);
    fl["yaxis2"] = json!({"overlaying": "y", "side": "right"});
    out.push(Figure {
        div: "sweep-final-vs-k",
        traces: final_vs_k(report),
        layout: fl,
    });
    let (traces, marks) = final_vs_compute(report);
    let mut cl = layout(
        "compute in epochs/steps (× the earliest decay's run)",
        false,
    );
    cl["shapes"] = marks["shapes"].clone();
    cl["annotations"] = marks["annotations"].clone();
    out.push(Figure {
        div: "sweep-compute",
        traces,
        layout: cl,
    });
    out
}

/// Draws a sweep's figures (browser only).
pub fn draw_sweep(
    sweep: &SweepSummary,
    metrics: &[RunMetrics],
    report: &SweepReport,
    opts: ChartOptions,
    prediction: Option<&SweepPrediction>,
) {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    for f in sweep_figures(sweep, metrics, report, opts, prediction) {
        super::chart::browser::react_when_attached(f.div, f.traces, f.layout, 120);
    }
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    let _ = (sweep, metrics, report, opts, prediction);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_last_point() {
        let v: Vec<u32> = (0..10).collect();
        assert_eq!(thin(&v, 20), v);
        let t = thin(&v, 4);
        assert_eq!(t.first(), Some(&0));
        assert_eq!(t.last(), Some(&9));
        assert!(t.len() <= 5);
    }
}
