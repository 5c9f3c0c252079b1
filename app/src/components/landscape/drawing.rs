//! How a finished loss landscape is drawn: the Plotly figures (train and test contour maps on
//! the same axes, with the trajectories on top), a server-side SVG heat map for readers without
//! JavaScript, and the plain-language reading of the picture.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::components::palette::path_colour;
use domain::wire::Landscape;

pub const TRAIN_DIV: &str = "landscape-train";
pub const TEST_DIV: &str = "landscape-test";

/// log₁₀ of each loss, so that a valley and a cliff share one colour scale; gaps stay gaps.
fn log_grid(grid: &[Vec<Option<f64>>]) -> Vec<Vec<Option<f64>>> {
    grid.iter()
        .map(|row| {
            row.iter()
                .map(|v| v.filter(|x| *x > 0.0 && x.is_finite()).map(f64::log10))
                .collect()
        })
        .collect()
}

/// The lowest grid value's (x, y): where the map's minimum lies.
pub fn grid_minimum(l: &Landscape, grid: &[Vec<Option<f64>>]) -> Option<(f64, f64, f64)> {
    let mut best: Option<(f64, f64, f64)> = None;
    for (iy, row) in grid.iter().enumerate() {
        for (ix, v) in row.iter().enumerate() {
            if let (Some(v), Some(&x), Some(&y)) = (v, l.xs.get(ix), l.ys.get(iy))
                && best.is_none_or(|b| *v < b.2)
            {
                best = Some((x, y, *v));
            }
        }
    }
    best
}

/// The overlays every map carries: trajectories, branch and final points, and for the toy the
/// minima manifold and the minimum-norm solution.
fn overlays(l: &Landscape, show_legend: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, p) in l.paths.iter().enumerate() {
        let colour = path_colour(i);
        out.push(json!({
            "type": "scatter", "mode": "lines+markers", "name": p.label,
            "x": p.x, "y": p.y, "text": p.epochs.iter().zip(&p.dist_to_plane)
                .map(|(e, d)| format!("epoch {e} · {d:.3} off the plane")).collect::<Vec<_>>(),
            "line": {"color": colour, "width": 2}, "marker": {"size": 4, "color": colour},
            "legendgroup": p.label, "showlegend": show_legend, "meta": "trajectory",
        }));
        if let (Some(x), Some(y)) = (p.x.last(), p.y.last()) {
            out.push(json!({
                "type": "scatter", "mode": "markers", "name": format!("{} final", p.label),
                "x": [x], "y": [y], "marker": {"symbol": "star", "size": 13, "color": colour,
                "line": {"color": "#000", "width": 1}}, "legendgroup": p.label, "showlegend": false,
                "meta": "final",
            }));
        }
        if i > 0
            && let (Some(x), Some(y)) = (p.x.first(), p.y.first())
        {
            out.push(json!({
                "type": "scatter", "mode": "markers", "name": format!("{} branch point", p.label),
                "x": [x], "y": [y], "marker": {"symbol": "diamond", "size": 10, "color": colour,
                "line": {"color": "#000", "width": 1}}, "legendgroup": p.label, "showlegend": false,
                "meta": "branch point",
            }));
        }
    }
    for (i, piece) in l.manifold.iter().enumerate() {
        out.push(json!({
            "type": "scatter", "mode": "lines", "name": "training-loss minima",
            "x": piece.iter().map(|p| p[0]).collect::<Vec<_>>(),
            "y": piece.iter().map(|p| p[1]).collect::<Vec<_>>(),
            "line": {"color": "#ff4d4d", "dash": "dash", "width": 2},
            "legendgroup": "manifold", "showlegend": show_legend && i == 0, "meta": "manifold",
        }));
    }
    if let Some(w) = l.w_mn {
        out.push(json!({
            "type": "scatter", "mode": "markers", "name": "w_mn (minimum norm)",
            "x": [w[0]], "y": [w[1]], "marker": {"symbol": "x", "size": 13, "color": "#ff4d4d"},
            "showlegend": show_legend, "meta": "w_mn",
        }));
    }
    out
}

/// The two Plotly figures, train then test, with identical axis ranges.
pub fn figures(l: &Landscape) -> [(Value, Value); 2] {
    let range = |v: &[f64]| {
        json!([
            v.first().copied().unwrap_or(0.0),
            v.last().copied().unwrap_or(1.0)
        ])
    };
    let figure = |grid: &[Vec<Option<f64>>], title: &str, legend: bool| {
        let mut traces = vec![json!({
            "type": "contour", "name": title, "x": l.xs, "y": l.ys, "z": log_grid(grid),
            "colorscale": "Viridis", "ncontours": 24, "connectgaps": false,
            "contours": {"coloring": "heatmap"}, "line": {"width": 0.5, "color": "rgba(0,0,0,0.25)"},
            "colorbar": {"title": {"text": "log₁₀ loss"}, "thickness": 12},
            "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>log₁₀ loss=%{z:.3f}<extra></extra>",
        })];
        traces.extend(overlays(l, legend));
        let layout = json!({
            "title": {"text": title, "font": {"size": 14}},
            "height": 460, "margin": {"l": 60, "r": 10, "t": 40, "b": 50},
            "xaxis": {"title": {"text": l.x_label}, "range": range(&l.xs), "zeroline": false},
            "yaxis": {"title": {"text": l.y_label}, "range": range(&l.ys), "zeroline": false},
            "legend": {"orientation": "h", "y": -0.18}, "showlegend": legend,
        });
        (Value::Array(traces), layout)
    };
    [
        figure(&l.train_loss, "train loss", true),
        figure(&l.test_loss, "test loss", true),
    ]
}

/// What the picture says, in words: where the trajectory ends relative to each valley.
pub fn reading(l: &Landscape) -> String {
    let mut parts = Vec::new();
    if l.explained_variance.len() >= 2 {
        parts.push(format!(
            "PC1 and PC2 explain {:.0}% of the trajectory's variance ({:.0}% + {:.0}%).",
            100.0 * (l.explained_variance[0] + l.explained_variance[1]),
            100.0 * l.explained_variance[0],
            100.0 * l.explained_variance[1]
        ));
    }
    let dist = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    if let Some(test) = grid_minimum(l, &l.test_loss) {
        parts.push(format!(
            "On this plane the test-loss minimum ({:.4}) lies at ({:.3}, {:.3}).",
            test.2, test.0, test.1
        ));
        let ends: Vec<(String, f64)> = l
            .paths
            .iter()
            .filter_map(|p| {
                Some((
                    p.label.clone(),
                    dist((*p.x.last()?, *p.y.last()?), (test.0, test.1)),
                ))
            })
            .collect();
        if let Some((label, d)) = ends
            .iter()
            .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
        {
            parts.push(format!(
                "The path ending closest to it is {label} (distance {d:.3} in plane units)."
            ));
        }
    }
    parts.join(" ")
}

/// A heat map of one grid with the trajectories, drawn on the server for readers without
/// JavaScript.
#[component]
pub fn SvgLandscape(landscape: Landscape, test: bool) -> impl IntoView {
    const S: f64 = 300.0;
    let l = &landscape;
    let grid = log_grid(if test { &l.test_loss } else { &l.train_loss });
    let values: Vec<f64> = grid.iter().flatten().filter_map(|v| *v).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = (
        l.xs.first().copied().unwrap_or(0.0),
        l.xs.last().copied().unwrap_or(1.0),
    );
    let (y0, y1) = (
        l.ys.first().copied().unwrap_or(0.0),
        l.ys.last().copied().unwrap_or(1.0),
    );
    let sx = move |x: f64| (x - x0) / (x1 - x0).max(1e-300) * S;
    let sy = move |y: f64| S - (y - y0) / (y1 - y0).max(1e-300) * S;
    let (nx, ny) = (l.xs.len().max(1), l.ys.len().max(1));
    let (cw, ch) = (S / nx as f64, S / ny as f64);
    let cells = grid
        .iter()
        .enumerate()
        .flat_map(|(iy, row)| {
            row.iter().enumerate().map(move |(ix, v)| {
                let t = v.map_or(1.0, |v| ((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0));
                // Dark (low loss) to light (high loss), grey where the loss overflowed.
                let fill = match v {
                    Some(_) => format!(
                        "rgb({},{},{})",
                        (30.0 + 220.0 * t) as u8,
                        (20.0 + 200.0 * t) as u8,
                        (90.0 + 60.0 * (1.0 - t)) as u8
                    ),
                    None => "#999".into(),
                };
                view! {
                    <rect x=ix as f64 * cw y=S - (iy as f64 + 1.0) * ch width=cw + 0.5 height=ch + 0.5 fill=fill/>
                }
            })
        })
        .collect_view();
    let paths = l
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let pts =
                p.x.iter()
                    .zip(&p.y)
                    .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
                    .collect::<Vec<_>>()
                    .join(" ");
            let colour = path_colour(i);
            view! { <polyline points=pts fill="none" stroke=colour stroke-width="2"/> }
        })
        .collect_view();
    let title = if test { "test loss" } else { "train loss" };
    view! {
        <figure class="svg-landscape">
            <svg viewBox=format!("0 0 {S} {S}") width="100%" role="img" aria-label=title>
                {cells}
                {paths}
            </svg>
            <figcaption>{format!("{title}: dark = low (log₁₀ loss {lo:.2}), light = high ({hi:.2}); {} from {x0:.3} to {x1:.3}, {} from {y0:.3} to {y1:.3}", l.x_label, l.y_label)}</figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::wire::LandscapeMethod;
    use domain::wire::PathProjection;

    fn sample() -> Landscape {
        Landscape {
            method: LandscapeMethod::Pca,
            num_params: 10,
            num_checkpoints: 3,
            explained_variance: vec![0.7, 0.2],
            x_label: "PC1".into(),
            y_label: "PC2".into(),
            xs: vec![-1.0, 0.0, 1.0],
            ys: vec![-1.0, 1.0],
            train_loss: vec![
                vec![Some(1.0), Some(0.1), None],
                vec![Some(2.0), Some(3.0), Some(4.0)],
            ],
            test_loss: vec![
                vec![Some(1.0), Some(0.5), Some(0.2)],
                vec![Some(2.0), Some(3.0), Some(4.0)],
            ],
            train_acc: None,
            test_acc: None,
            paths: vec![
                PathProjection {
                    label: "main".into(),
                    run_id: None,
                    epochs: vec![1.0, 2.0],
                    x: vec![-1.0, 0.0],
                    y: vec![1.0, -1.0],
                    dist_to_plane: vec![0.0, 0.0],
                },
                PathProjection {
                    label: "k=1".into(),
                    run_id: None,
                    epochs: vec![1.0, 2.0],
                    x: vec![-1.0, 1.0],
                    y: vec![1.0, -1.0],
                    dist_to_plane: vec![0.0, 0.0],
                },
            ],
            max_rel_projection_error: 0.0,
            manifold: vec![],
            w_mn: None,
            elapsed_secs: 1.0,
            batch_norm: None,
        }
    }

    #[test]
    fn figures_share_axes_and_carry_every_path() {
        let l = sample();
        let [train, test] = figures(&l);
        assert_eq!(train.1["xaxis"]["range"], test.1["xaxis"]["range"]);
        assert_eq!(train.1["yaxis"]["range"], json!([-1.0, 1.0]));
        let traj = |f: &Value| {
            f.as_array()
                .unwrap()
                .iter()
                .filter(|t| t["meta"] == "trajectory")
                .count()
        };
        assert_eq!(traj(&train.0), 2);
        assert_eq!(traj(&test.0), 2);
        // Gaps stay gaps and values are on a log scale.
        assert_eq!(train.0[0]["z"][0][2], Value::Null);
        assert!((train.0[0]["z"][0][1].as_f64().unwrap() + 1.0).abs() < 1e-12);
        let branch_points = train
            .0
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["meta"] == "branch point")
            .count();
        assert_eq!(branch_points, 1, "only branches have a branch point");
    }

    #[test]
    fn reading_names_the_path_nearest_the_test_minimum() {
        let r = reading(&sample());
        assert!(r.contains("90%"), "{r}");
        assert!(r.contains("(1.000, -1.000)"), "{r}");
        assert!(r.contains("closest to it is k=1"), "{r}");
    }
}
