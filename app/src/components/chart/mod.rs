//! Plotly charts (Plotly is served locally): what a chart shows (`ChartDef`, the sweep page's
//! `ChartOptions`), a run's live curves fed from its event stream with `extendTraces` batched
//! per tick, finished curves drawn once, and a landscape job followed to its end. Each entry
//! point does its work in the browser (`browser`) and nothing on the server.

use domain::Metric;

use domain::wire::{Progress, StatusChange};

/// What the x-axis of the overlaid curves shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    Step,
    Epoch,
    /// Cumulative training seconds (networks; the toy model records none, so it falls back to steps).
    Seconds,
}

/// The sweep page's chart controls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChartOptions {
    pub log_y: bool,
    pub x: XAxis,
    /// Debiased EMA factor β in [0, 1); 0 draws the raw rows. Never applied to the LR.
    pub smoothing: f64,
    /// With several seeds: what the band around each mean curve spans.
    pub spread: domain::analysis::Spread,
    /// With several seeds: draw each seed's curve faintly behind the mean.
    pub show_seeds: bool,
}

impl Default for ChartOptions {
    fn default() -> Self {
        Self {
            log_y: true,
            x: XAxis::Step,
            smoothing: 0.0,
            spread: domain::analysis::Spread::Sd,
            show_seeds: false,
        }
    }
}

/// Points per curve after downsampling (min, max and last of each bucket are kept).
pub const CURVE_POINTS: usize = 1500;

/// One chart: a div and the metric keys drawn in it.
pub struct ChartDef {
    pub div: &'static str,
    pub title: &'static str,
    pub log_y: bool,
    /// (metric, legend label)
    pub series: &'static [(Metric, &'static str)],
}

/// Opens the run's stream once the page is live in a browser, and closes it with the page.
pub fn attach_live(
    run_id: i64,
    charts: &'static [ChartDef],
    on_status: impl Fn(StatusChange) + 'static,
    on_progress: impl Fn(Progress) + 'static,
) {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    browser::attach(run_id, charts, on_status, on_progress);
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    let _ = (run_id, charts, on_status, on_progress);
}

/// Draws finished curves once (a shared snapshot: no stream to follow). Browser only.
pub fn draw_static(charts: &'static [ChartDef], points: &[domain::wire::MetricPoint]) {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    for c in charts {
        use serde_json::json;
        let traces: Vec<serde_json::Value> = c
            .series
            .iter()
            .map(|(key, label)| {
                let (xs, ys): (Vec<f64>, Vec<f64>) = points
                    .iter()
                    .filter_map(|p| p.get(*key).map(|v| (p.step as f64, v)))
                    .unzip();
                let (xs, ys) = domain::analysis::downsample(&xs, &ys, CURVE_POINTS);
                json!({"x": xs, "y": ys, "name": label, "mode": "lines", "type": "scatter"})
            })
            .collect();
        let layout = json!({
            "margin": {"l": 55, "r": 10, "t": 10, "b": 40}, "height": 280,
            "xaxis": {"title": {"text": "step"}},
            "yaxis": {"type": if c.log_y { "log" } else { "linear" }, "exponentformat": "e"},
            "legend": {"orientation": "h", "y": 1.12}, "hovermode": "closest",
        });
        browser::react_when_attached(c.div, serde_json::Value::Array(traces), layout, 120);
    }
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    let _ = (charts, points);
}

/// Draws prepared traces into `div` once it is in the document. Browser only.
pub fn plot(div: &'static str, traces: serde_json::Value, layout: serde_json::Value) {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    browser::react_when_attached(div, traces, layout, 120);
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    let _ = (div, traces, layout);
}

/// Follows a landscape job's progress stream, calling `on_state` with every state; the last
/// call has `done == true` and the stream is closed. Browser only; closed with the page.
pub fn follow_landscape(
    id: i64,
    on_state: impl Fn(domain::wire::LandscapeSummary, bool) + 'static,
) {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    browser::follow_landscape(id, on_state);
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    let _ = (id, on_state);
}

#[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
pub(crate) mod browser;
