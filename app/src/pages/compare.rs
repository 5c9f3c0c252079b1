//! Compare any runs: pick them from the list, draw one metric against the step, the epoch or
//! another metric, with log axes, smoothing drawn over the faint raw curve (never on the LR),
//! and a readout at a chosen step or epoch. The URL holds the whole view.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use serde_json::{Value, json};

use crate::api::{list_runs, run_metrics};
use crate::components::palette::colour;
use domain::Metric;
use domain::compare::{At, Axis, CompareView, curve, keys, readout};
use domain::wire::{MetricRow, RunSummary};

/// The compare figure: per run its curve, smoothed over the faint raw one when asked.
pub fn figure(runs: &[(RunSummary, Vec<MetricRow>)], view: &CompareView) -> (Value, Value) {
    let mut traces = Vec::new();
    for (i, (run, rows)) in runs.iter().enumerate() {
        let c = curve(rows, view);
        let colour = colour(i);
        let name = format!("{} · {}", run.id, run.name);
        match &c.smooth {
            Some(s) => {
                traces.push(
                    json!({"x": c.xs, "y": c.raw, "mode": "lines", "opacity": 0.25,
                    "line": {"color": colour, "width": 1}, "name": format!("{name} (raw)"),
                    "legendgroup": run.id, "showlegend": false}),
                );
                traces.push(json!({"x": c.xs, "y": s, "mode": "lines", "line": {"color": colour, "width": 2},
                    "name": name, "legendgroup": run.id}));
            }
            None => traces.push(json!({"x": c.xs, "y": c.raw, "mode": "lines",
                "line": {"color": colour, "width": 2}, "name": name, "legendgroup": run.id})),
        }
    }
    let scale = |log: bool| if log { "log" } else { "linear" };
    let layout = json!({
        "margin": {"l": 60, "r": 10, "t": 10, "b": 45}, "height": 420,
        "xaxis": {"title": {"text": view.x.key()}, "type": scale(view.log_x), "exponentformat": "e"},
        "yaxis": {"title": {"text": view.y.key()}, "type": scale(view.log_y), "exponentformat": "e"},
        "legend": {"orientation": "h", "y": 1.15}, "hovermode": "closest",
    });
    (Value::Array(traces), layout)
}

/// A setter of the view: every control rewrites the URL and the page follows the URL, so a
/// reload or a shared link shows the same view.
fn setter(view_now: Memo<CompareView>) -> impl Fn(&dyn Fn(&mut CompareView)) + Clone {
    let navigate = use_navigate();
    move |f: &dyn Fn(&mut CompareView)| {
        let mut v = view_now.get_untracked();
        f(&mut v);
        navigate(
            &format!("/compare?{}", v.to_query()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    }
}

#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let view_now = Memo::new(move |_| {
        let q = query.read();
        CompareView::from_query(|k| q.get(k))
    });
    let data = Resource::new(
        move || view_now.get().runs,
        |ids| async move {
            let listed = list_runs().await.unwrap_or_default();
            let mut out = Vec::new();
            for id in ids {
                let Some(run) = listed.iter().find(|r| r.id == id).cloned() else {
                    continue;
                };
                out.push((run, run_metrics(id).await.unwrap_or_default()));
            }
            out
        },
    );
    view! {
        <Title text="Compare runs · Anneal"/>
        <section class="card">
            <h1>"Compare runs"</h1>
            <p class="meta">"Pick runs below. The address holds the selection and every setting, so a view can be bookmarked and shared."</p>
            <CompareControls view_now/>
            <div class="chart" id="compare-chart"></div>
            <Suspense fallback=|| view! { <p>"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    let runs = data.await;
                    let v = view_now.get();
                    let (traces, layout) = figure(&runs, &v);
                    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
                    crate::components::chart::browser::react_when_attached("compare-chart", traces, layout, 120);
                    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
                    let _ = (traces, layout);
                    view! { <Readout runs v/> }
                })}
            </Suspense>
        </section>
        <RunPicker view_now/>
    }
}

/// The view's settings: the metric and what it is drawn against, log axes, smoothing, and
/// where the readout is taken.
#[component]
fn CompareControls(view_now: Memo<CompareView>) -> impl IntoView {
    let set = setter(view_now);
    let set_y = set.clone();
    let set_x = set.clone();
    let set_lx = set.clone();
    let set_ly = set.clone();
    let set_s = set.clone();
    let set_at = set.clone();
    let set_unit = set;
    view! {
        <div class="preview-controls chart-controls">
            <label>"metric "
                <select id="cmp-y" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set_y(&|c: &mut CompareView| if let Some(m) = Metric::parse(&v) { c.y = m; });
                }>
                    {Metric::ALL.into_iter().map(|m| view! {
                        <option value=m.key() selected=move || view_now.get().y == m>{m.key()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"against "
                <select id="cmp-x" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set_x(&|c: &mut CompareView| if let Some(a) = Axis::parse(&v) { c.x = a; });
                }>
                    {[Axis::Step, Axis::Epoch].into_iter().chain(Metric::ALL.into_iter().map(Axis::Metric)).map(|a| view! {
                        <option value=a.key() selected=move || view_now.get().x == a>{a.key()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label><input id="cmp-logx" type="checkbox" prop:checked=move || view_now.get().log_x
                on:change=move |ev| { let on = event_target_checked(&ev); set_lx(&|c: &mut CompareView| c.log_x = on); }/>" log x"</label>
            <label><input id="cmp-logy" type="checkbox" prop:checked=move || view_now.get().log_y
                on:change=move |ev| { let on = event_target_checked(&ev); set_ly(&|c: &mut CompareView| c.log_y = on); }/>" log y"</label>
            <label>"smoothing (debiased EMA, never on the LR) "
                <input id="cmp-smooth" type="range" min="0" max="0.99" step="0.01"
                    prop:value=move || view_now.get().smoothing.to_string()
                    on:change=move |ev| {
                        let v: f64 = event_target_value(&ev).parse().unwrap_or(0.0);
                        set_s(&|c: &mut CompareView| c.smoothing = v);
                    }/>
                {move || format!(" {:.2}", view_now.get().smoothing)}
            </label>
            <label>"readout at "
                <input id="cmp-at" type="text" size="8" placeholder="last"
                    prop:value=move || match view_now.get().at { Some(At::Step(s)) => s.to_string(), Some(At::Epoch(e)) => e.to_string(), None => String::new() }
                    on:change=move |ev| {
                        let text = event_target_value(&ev);
                        set_at(&|c: &mut CompareView| {
                            let epoch = matches!(c.at, Some(At::Epoch(_)));
                            c.at = text.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
                                .map(|v| if epoch { At::Epoch(v) } else { At::Step(v as u64) });
                        });
                    }/>
            </label>
            <label>
                <select id="cmp-at-unit" on:change=move |ev| {
                    let epoch = event_target_value(&ev) == "epoch";
                    set_unit(&|c: &mut CompareView| {
                        c.at = match c.at {
                            Some(At::Step(s)) if epoch => Some(At::Epoch(s as f64)),
                            Some(At::Epoch(e)) if !epoch => Some(At::Step(e as u64)),
                            other => other,
                        };
                    });
                }>
                    <option value="step" selected=move || !matches!(view_now.get().at, Some(At::Epoch(_)))>"step"</option>
                    <option value="epoch" selected=move || matches!(view_now.get().at, Some(At::Epoch(_)))>"epoch"</option>
                </select>
            </label>
        </div>
    }
}

/// Each picked run's values at the readout point, and what that point is.
#[component]
fn Readout(runs: Vec<(RunSummary, Vec<MetricRow>)>, v: CompareView) -> impl IntoView {
    let recorded = keys(runs.iter().map(|(_, r)| r.as_slice()));
    let missing = !recorded.contains(&v.y);
    view! {
        {(runs.is_empty()).then(|| view! { <p class="meta" id="cmp-empty">"No run picked yet."</p> })}
        {(missing && !runs.is_empty()).then(|| view! {
            <p class="form-error">{format!("None of these runs recorded {}.", v.y.key())}</p>
        })}
        <table class="runs" id="cmp-readout">
            <thead><tr><th>"run"</th><th>"step"</th><th>"epoch"</th><th>{v.y.key()}</th>
                {matches!(v.x, Axis::Metric(_)).then(|| view! { <th>{v.x.key()}</th> })}</tr></thead>
            <tbody>
                {runs.iter().map(|(run, rows)| {
                    let r = readout(rows, v.at);
                    let val = |m: Metric| r.and_then(|r| domain::metric::get(&r.values, m)).map_or("—".into(), |x| format!("{x:.6}"));
                    view! {
                        <tr>
                            <td><a href=format!("/runs/{}", run.id)>{format!("{} · {}", run.id, run.name)}</a></td>
                            <td>{r.map_or("—".into(), |r| r.step.to_string())}</td>
                            <td>{r.map_or("—".into(), |r| format!("{:.2}", r.epoch))}</td>
                            <td>{val(v.y)}</td>
                            {match v.x { Axis::Metric(m) => Some(view! { <td>{val(m)}</td> }), _ => None }}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <p class="meta">{match v.at {
            None => "Readout: each run's last row.".to_owned(),
            Some(At::Step(s)) => format!("Readout: each run's last row at or before step {s}."),
            Some(At::Epoch(e)) => format!("Readout: each run's last row at or before epoch {e}."),
        }}</p>
    }
}

/// Every run, each with a checkbox adding it to or removing it from the URL's selection.
#[component]
fn RunPicker(view_now: Memo<CompareView>) -> impl IntoView {
    let all_runs = Resource::new(|| (), |_| list_runs());
    let toggle = {
        let set = setter(view_now);
        move |id: i64, on: bool| {
            set(&|v: &mut CompareView| {
                v.runs.retain(|&r| r != id);
                if on && v.runs.len() < domain::compare::MAX_COMPARE {
                    v.runs.push(id);
                }
            })
        }
    };
    view! {
        <section class="card">
            <h2>"Runs"</h2>
            <Suspense fallback=|| ()>
                {move || {
                    let toggle = toggle.clone();
                    Suspend::new(async move {
                    let list = all_runs.await.unwrap_or_default();
                    view! {
                        <ul class="pick-runs" id="cmp-pick">
                            {list.into_iter().map(|r| {
                                let id = r.id;
                                let toggle = toggle.clone();
                                view! {
                                    <li><label>
                                        <input type="checkbox" class="cmp-run" data-run=id
                                            prop:checked=move || view_now.get().runs.contains(&id)
                                            on:change=move |ev| toggle(id, event_target_checked(&ev))/>
                                        {format!(" {} · {} ({})", r.id, r.name, r.status.as_str())}
                                    </label></li>
                                }
                            }).collect_view()}
                        </ul>
                    }
                })}}
            </Suspense>
        </section>
    }
}
