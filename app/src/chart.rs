//! Live charts: an EventSource on a run's stream feeding Plotly (served locally) with
//! `extendTraces`, batched per animation tick. Browser-only; on the server it does nothing.

use domain::Metric;
use leptos::prelude::*;
use schedule::Schedule;

use domain::wire::{Progress, StatusChange};

/// Points drawn per schedule in the preview; min, max and last per bucket keep spikes visible.
pub const PREVIEW_POINTS: usize = 2000;

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

/// Points of a what-if prediction (each a fit evaluated on the whole schedule).
pub const WHATIF_POINTS: usize = 200;

/// The what-if reference of the schedule editor: a law fitted on a finished run or sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIf {
    /// "sweep 3 · name" or "run 12 · name".
    pub source: String,
    pub fit: domain::prediction::ReferenceFit,
}

impl WhatIf {
    /// The legend's words: what is drawn, from what, and how wrong it was on held-out data.
    pub fn label(&self) -> String {
        format!(
            "predicted test loss ({}, fitted on {}; held-out error {})",
            self.fit.law.key(),
            self.source,
            self.fit
                .validation_rel_error
                .map_or("unknown".into(), |e| format!("{:.1}%", 100.0 * e))
        )
    }

    /// The predicted test-loss trace of `s` over `total` steps, on the right-hand axis; None
    /// when the law did not fit.
    pub fn trace(
        &self,
        s: &Schedule,
        total: u64,
        steps_per_epoch: u64,
        epochs: bool,
        name: String,
        dash: &str,
    ) -> Option<serde_json::Value> {
        let fit = self.fit.fit.as_ref()?;
        let total = total.max(1);
        let n = WHATIF_POINTS as u64;
        let mut steps: Vec<u64> = (1..=n).map(|i| (total * i).div_ceil(n)).collect();
        steps.dedup();
        let lr = domain::law::LrTrace::from_schedule(s, total);
        let ys = fit.predict(&lr, &steps);
        let xs: Vec<f64> = steps
            .iter()
            .map(|&st| {
                if epochs {
                    schedule::steps_to_epochs(st, steps_per_epoch.max(1))
                } else {
                    st as f64
                }
            })
            .collect();
        Some(
            serde_json::json!({"x": xs, "y": ys, "name": name, "mode": "lines", "yaxis": "y2",
            "meta": "prediction", "line": {"dash": dash, "color": "#d62728", "width": 2}}),
        )
    }
}

/// Redraws the LR preview (`#lr-preview`) whenever the schedule, its comparison or the axes change.
/// What the LR preview draws: the schedule, a pinned one to compare, the step scale, the axes
/// and the what-if reference.
#[derive(Clone, Copy)]
pub struct Preview {
    pub div: &'static str,
    pub schedule: RwSignal<Option<Schedule>>,
    pub pinned: RwSignal<Option<(String, Schedule)>>,
    pub total_steps: Signal<u64>,
    pub steps_per_epoch: Signal<u64>,
    pub log_y: RwSignal<bool>,
    pub x_epochs: RwSignal<bool>,
    pub whatif: RwSignal<Option<WhatIf>>,
}

pub fn preview_effect(p: Preview) {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    Effect::new(move |_| {
        let Preview {
            div,
            schedule,
            pinned,
            total_steps,
            steps_per_epoch,
            log_y,
            x_epochs,
            whatif,
        } = p;
        let total = total_steps.get().max(1);
        let spe = steps_per_epoch.get().max(1);
        let (log, epochs) = (log_y.get(), x_epochs.get());
        let w = whatif.get();
        let mut traces = Vec::new();
        let mut add = |name: String, s: &Schedule, dash: &str| {
            let pts = s.curve(total, PREVIEW_POINTS);
            let xs: Vec<f64> = pts
                .iter()
                .map(|(st, _)| {
                    if epochs {
                        schedule::steps_to_epochs(*st, spe)
                    } else {
                        *st as f64
                    }
                })
                .collect();
            let ys: Vec<f64> = pts.iter().map(|(_, lr)| *lr).collect();
            traces.push(serde_json::json!({"x": xs, "y": ys, "name": name, "mode": "lines", "line": {"dash": dash, "shape": "hv"}}));
        };
        let pinned = pinned.get();
        let current = schedule.get();
        if let Some((name, s)) = &pinned {
            add(format!("pinned: {name}"), s, "dash");
        }
        if let Some(s) = &current {
            add(s.describe(), s, "solid");
        }
        if let Some(w) = &w {
            if let Some((_, s)) = &pinned {
                traces.extend(w.trace(
                    s,
                    total,
                    spe,
                    epochs,
                    format!("pinned: {}", w.label()),
                    "dot",
                ));
            }
            if let Some(s) = &current {
                traces.extend(w.trace(s, total, spe, epochs, w.label(), "dash"));
            }
        }
        let mut layout = serde_json::json!({
            "margin": {"l": 60, "r": 10, "t": 10, "b": 40}, "height": 260,
            "xaxis": {"title": {"text": if epochs { "epoch" } else { "step" }}},
            "yaxis": {"title": {"text": "LR"}, "type": if log { "log" } else { "linear" }, "exponentformat": "e",
                      "rangemode": if log { "normal" } else { "tozero" }},
            "legend": {"orientation": "h", "y": 1.15}, "showlegend": true,
        });
        if w.is_some() {
            layout["yaxis2"] = serde_json::json!({"title": {"text": "predicted test loss"},
                "overlaying": "y", "side": "right", "exponentformat": "e"});
            layout["margin"]["r"] = serde_json::json!(60);
        }
        browser::react_when_attached(div, serde_json::Value::Array(traces), layout, 120);
    });
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    let _ = p;
}

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
pub(crate) mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::prelude::*;
    use serde_json::{Value, json};
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use web_sys::{EventSource, MessageEvent};

    use super::ChartDef;
    use domain::wire::{MetricPoint, Progress, StatusChange, events_url};

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_namespace = Plotly, js_name = newPlot)]
        fn new_plot(
            div: &str,
            data: &JsValue,
            layout: &JsValue,
            config: &JsValue,
        ) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch, js_namespace = Plotly, js_name = react)]
        fn react(
            div: &str,
            data: &JsValue,
            layout: &JsValue,
            config: &JsValue,
        ) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch, js_namespace = Plotly, js_name = extendTraces)]
        fn extend_traces(
            div: &str,
            update: &JsValue,
            indices: &JsValue,
        ) -> Result<JsValue, JsValue>;
    }

    fn js(v: &Value) -> JsValue {
        js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
    }

    /// `Plotly.react` once `div` is in the document (retrying for a few frames).
    pub fn react_when_attached(div: &'static str, traces: Value, layout: Value, tries_left: u32) {
        let present = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(div))
            .is_some();
        if present {
            let config = json!({"responsive": true, "displaylogo": false});
            if let Err(e) = react(div, &js(&traces), &js(&layout), &js(&config)) {
                web_sys::console::error_2(&"Plotly.react failed".into(), &e);
            }
        } else if tries_left > 0 {
            request_animation_frame(move || {
                react_when_attached(div, traces, layout, tries_left - 1)
            });
        }
    }

    fn draw_empty(c: &ChartDef) {
        let traces: Vec<Value> = c
            .series
            .iter()
            .map(|(_, label)| json!({"x": [], "y": [], "name": label, "mode": "lines", "type": "scatter"}))
            .collect();
        let layout = json!({
            "margin": {"l": 55, "r": 10, "t": 10, "b": 40},
            "height": 280,
            "xaxis": {"title": {"text": "step"}},
            "yaxis": {"type": if c.log_y { "log" } else { "linear" }, "exponentformat": "e", "rangemode": if c.log_y { "normal" } else { "tozero" }},
            "legend": {"orientation": "h", "y": 1.12},
        });
        let config = json!({"responsive": true, "displaylogo": false});
        if let Err(e) = new_plot(
            c.div,
            &js(&Value::Array(traces)),
            &js(&layout),
            &js(&config),
        ) {
            web_sys::console::error_2(&"Plotly.newPlot failed".into(), &e);
        }
    }

    fn flush(charts: &[ChartDef], pending: &mut Vec<MetricPoint>) {
        if pending.is_empty() {
            return;
        }
        for c in charts {
            let xs: Vec<Vec<u64>> = c
                .series
                .iter()
                .map(|(k, _)| {
                    pending
                        .iter()
                        .filter(|p| p.get(*k).is_some())
                        .map(|p| p.step)
                        .collect()
                })
                .collect();
            let ys: Vec<Vec<f64>> = c
                .series
                .iter()
                .map(|(k, _)| pending.iter().filter_map(|p| p.get(*k)).collect())
                .collect();
            let idx: Vec<usize> = (0..c.series.len()).collect();
            if let Err(e) = extend_traces(c.div, &js(&json!({"x": xs, "y": ys})), &js(&json!(idx)))
            {
                web_sys::console::error_2(&"Plotly.extendTraces failed".into(), &e);
            }
        }
        pending.clear();
    }

    type Listener = Closure<dyn FnMut(MessageEvent)>;

    /// Draws the empty charts once their divs are in the document. After a client-side
    /// navigation the effect can run a frame before the new page is attached.
    fn draw_when_attached(charts: &'static [ChartDef], ready: Rc<Cell<bool>>, tries_left: u32) {
        let doc = web_sys::window().and_then(|w| w.document());
        let attached =
            doc.is_some_and(|d| charts.iter().all(|c| d.get_element_by_id(c.div).is_some()));
        if attached {
            charts.iter().for_each(draw_empty);
            ready.set(true);
        } else if tries_left > 0 {
            request_animation_frame(move || draw_when_attached(charts, ready, tries_left - 1));
        }
    }

    pub fn follow_landscape(
        id: i64,
        on_state: impl Fn(domain::wire::LandscapeSummary, bool) + 'static,
    ) {
        let on_state = Rc::new(on_state);
        Effect::new(move |prev: Option<()>| {
            if prev.is_some() {
                return;
            }
            let Ok(es) = EventSource::new(&format!("/api/landscapes/{id}/events")) else {
                return;
            };
            let parse = |ev: &MessageEvent| {
                ev.data()
                    .as_string()
                    .and_then(|s| serde_json::from_str::<domain::wire::LandscapeSummary>(&s).ok())
            };
            let st = on_state.clone();
            let on_status: Listener = Closure::new(move |ev: MessageEvent| {
                if let Some(s) = parse(&ev) {
                    st(s, false);
                }
            });
            let (st, es2) = (on_state.clone(), es.clone());
            let on_done: Listener = Closure::new(move |ev: MessageEvent| {
                es2.close();
                if let Some(s) = parse(&ev) {
                    st(s, true);
                }
            });
            let _ =
                es.add_event_listener_with_callback("status", on_status.as_ref().unchecked_ref());
            let _ = es.add_event_listener_with_callback("done", on_done.as_ref().unchecked_ref());
            let keep = StoredValue::new_local((es.clone(), on_status, on_done));
            on_cleanup(move || {
                keep.with_value(|(es, _, _)| es.close());
            });
        });
    }

    pub fn attach(
        run_id: i64,
        charts: &'static [ChartDef],
        on_status: impl Fn(StatusChange) + 'static,
        on_progress: impl Fn(Progress) + 'static,
    ) {
        let on_status = Rc::new(on_status);
        let on_progress = Rc::new(on_progress);
        // Effects run only after hydration, never during SSR.
        Effect::new(move |prev: Option<()>| {
            if prev.is_some() {
                return;
            }
            let ready = Rc::new(Cell::new(false));
            draw_when_attached(charts, ready.clone(), 600);
            let Ok(es) = EventSource::new(&events_url(run_id)) else {
                return;
            };
            let pending: Rc<RefCell<Vec<MetricPoint>>> = Rc::default();

            let buf = pending.clone();
            let on_metric: Listener = Closure::new(move |ev: MessageEvent| {
                if let Some(p) = ev
                    .data()
                    .as_string()
                    .and_then(|s| serde_json::from_str::<MetricPoint>(&s).ok())
                {
                    buf.borrow_mut().push(p);
                }
            });
            let st = on_status.clone();
            let on_status_ev: Listener = Closure::new(move |ev: MessageEvent| {
                if let Some(c) = ev
                    .data()
                    .as_string()
                    .and_then(|s| serde_json::from_str::<StatusChange>(&s).ok())
                {
                    st(c);
                }
            });
            let (st, es2) = (on_status.clone(), es.clone());
            let on_done: Listener = Closure::new(move |ev: MessageEvent| {
                // Terminal: stop the browser from reconnecting; the timer draws what is buffered.
                es2.close();
                if let Some(c) = ev
                    .data()
                    .as_string()
                    .and_then(|s| serde_json::from_str::<StatusChange>(&s).ok())
                {
                    st(c);
                }
            });
            let op = on_progress.clone();
            let on_prog: Listener = Closure::new(move |ev: MessageEvent| {
                if let Some(p) = ev
                    .data()
                    .as_string()
                    .and_then(|s| serde_json::from_str::<Progress>(&s).ok())
                {
                    op(p);
                }
            });
            for (name, l) in [
                ("metric", &on_metric),
                ("status", &on_status_ev),
                ("done", &on_done),
                ("progress", &on_prog),
            ] {
                let _ = es.add_event_listener_with_callback(name, l.as_ref().unchecked_ref());
            }
            let buf = pending.clone();
            let tick: Closure<dyn FnMut()> = Closure::new(move || {
                if ready.get() {
                    flush(charts, &mut buf.borrow_mut());
                }
            });
            let timer = web_sys::window().and_then(|w| {
                w.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    250,
                )
                .ok()
            });

            let keep = StoredValue::new_local((
                es.clone(),
                on_metric,
                on_status_ev,
                on_done,
                on_prog,
                tick,
            ));
            on_cleanup(move || {
                es.close();
                if let (Some(w), Some(t)) = (web_sys::window(), timer) {
                    w.clear_interval_with_handle(t);
                }
                keep.dispose();
            });
        });
    }
}
