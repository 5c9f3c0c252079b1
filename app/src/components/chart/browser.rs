//! The browser half of the charts: Plotly called through wasm-bindgen, and the EventSource
//! streams of a run and a landscape job. Compiled only into the hydrating WASM bundle.

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
    fn extend_traces(div: &str, update: &JsValue, indices: &JsValue) -> Result<JsValue, JsValue>;
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
        request_animation_frame(move || react_when_attached(div, traces, layout, tries_left - 1));
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
        if let Err(e) = extend_traces(c.div, &js(&json!({"x": xs, "y": ys})), &js(&json!(idx))) {
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
    let attached = doc.is_some_and(|d| charts.iter().all(|c| d.get_element_by_id(c.div).is_some()));
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
        let _ = es.add_event_listener_with_callback("status", on_status.as_ref().unchecked_ref());
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

        let keep =
            StoredValue::new_local((es.clone(), on_metric, on_status_ev, on_done, on_prog, tick));
        on_cleanup(move || {
            es.close();
            if let (Some(w), Some(t)) = (web_sys::window(), timer) {
                w.clear_interval_with_handle(t);
            }
            keep.dispose();
        });
    });
}
