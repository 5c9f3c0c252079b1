//! A decay sweep: the lineage of main run and branches, all curves on shared axes, the final
//! metrics against the decay point (with Pearson r), accuracy against compute, and a conclusion.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use spec::Experiment;

use super::format_ms;
use crate::api::{found, get_sweep, sweep_metrics};
use crate::chart::{ChartOptions, XAxis};
use domain::Metric;
use domain::analysis::{branch_results, conclusion, decay_loss_pearson, last_value, pearson_line};
use domain::wire::{RunMetrics, SweepSummary};

#[component]
pub fn SweepPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let tick = RwSignal::new(0u32);
    let sweep = Resource::new(
        move || (id(), tick.get()),
        |(id, _)| async move {
            match id {
                Some(id) => found(get_sweep(id).await),
                None => Ok(None),
            }
        },
    );
    let metrics = Resource::new(
        move || (id(), tick.get()),
        |(id, _)| async move {
            match id {
                Some(id) => sweep_metrics(id).await,
                None => Ok(Vec::new()),
            }
        },
    );
    // Poll while anything is still queued or running; the page is a live dashboard.
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    {
        let handle = set_interval_with_handle(
            move || {
                let busy = sweep
                    .get_untracked()
                    .and_then(Result::ok)
                    .flatten()
                    .is_some_and(|s| s.runs.iter().any(|r| !r.run.status.is_terminal()));
                if busy {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_millis(1500),
        );
        if let Ok(h) = handle {
            on_cleanup(move || h.clear());
        }
    }
    // Chart controls live outside the polled view so they survive every refresh.
    let log_y = RwSignal::new(true);
    let x_axis = RwSignal::new(XAxis::Step);
    let smoothing = RwSignal::new(0.0f64);
    let opts = Signal::derive(move || ChartOptions {
        log_y: log_y.get(),
        x: x_axis.get(),
        smoothing: smoothing.get(),
    });
    view! {
        <div class="card preview-controls chart-controls">
            <label><input id="ctl-log" type="checkbox" prop:checked=move || log_y.get()
                on:change=move |ev| log_y.set(event_target_checked(&ev))/>" log y (losses, LR)"</label>
            <label>"x-axis "
                <select id="ctl-x" on:change=move |ev| x_axis.set(match event_target_value(&ev).as_str() {
                    "epoch" => XAxis::Epoch,
                    "seconds" => XAxis::Seconds,
                    _ => XAxis::Step,
                })>
                    <option value="step">"step"</option>
                    <option value="epoch">"epoch"</option>
                    <option value="seconds">"compute (seconds)"</option>
                </select>
            </label>
            <label>"smoothing (debiased EMA) "
                <input id="ctl-smooth" type="range" min="0" max="0.99" step="0.01" prop:value=move || smoothing.get().to_string()
                    on:input=move |ev| smoothing.set(event_target_value(&ev).parse().unwrap_or(0.0))/>
                {move || format!(" {:.2}", smoothing.get())}
            </label>
            <span class="hint">"Curves keep each bucket's min, max and last point; click a legend entry to hide a series."</span>
        </div>
        <Suspense fallback=|| view! { <p>"Loading sweep…"</p> }>
            {move || Suspend::new(async move {
                let (s, m) = (sweep.await, metrics.await);
                match (s, m) {
                    (Ok(Some(s)), Ok(m)) => view! { <SweepView sweep=s metrics=m opts/> }.into_any(),
                    (Ok(None), _) => view! { <p class="notfound">"No such sweep."</p> }.into_any(),
                    (Err(e), _) | (_, Err(e)) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SweepView(
    sweep: SweepSummary,
    metrics: Vec<RunMetrics>,
    opts: Signal<ChartOptions>,
) -> impl IntoView {
    let results = branch_results(&sweep, &metrics);
    let u = sweep.unit();
    let text = conclusion(&results, u);
    let r = decay_loss_pearson(&results);
    let done = sweep
        .runs
        .iter()
        .filter(|r| r.run.status.is_terminal())
        .count();
    {
        let (sweep, metrics, results) = (sweep.clone(), metrics.clone(), results.clone());
        Effect::new(move |_| crate::chart::draw_sweep(&sweep, &metrics, &results, opts.get()));
    }
    view! {
        <section class="card">
            <h1>"Sweep " {sweep.id} " · " {sweep.name.clone()}</h1>
            <p class="meta">
                {format!("{} of {} runs finished · created {}", done, sweep.runs.len(), format_ms(sweep.created_at_ms))}
            </p>
            <p class="conclusion" id="sweep-conclusion">{text}</p>
            <p class="meta" id="sweep-pearson">
                {pearson_line(r, u)}
            </p>
            <p class="exports">
                "Export the summary: "
                <a href=format!("/api/sweeps/{}/summary?format=csv", sweep.id) download>"CSV"</a>
                " · "
                <a href=format!("/api/sweeps/{}/summary", sweep.id) download>"JSON"</a>
                " · each run's metrics from its page"
            </p>
            <super::share::ShareButton kind=domain::wire::ShareKind::Sweep id=sweep.id/>
            {match &sweep.spec.main.experiment {
                spec::Experiment::Toy(t) => t.d == 2,
                spec::Experiment::Net(_) => true,
            }.then(|| view! {
                <super::landscape::LandscapeLauncher source=domain::wire::LandscapeSource::Sweep { id: sweep.id }/>
            })}
            <table class="runs" id="lineage">
                <thead><tr><th>"run"</th><th>"role"</th><th>"status"</th><th>"final test loss"</th><th>"final test acc"</th></tr></thead>
                <tbody>
                    {sweep.runs.iter().map(|r| {
                        let m = metrics.iter().find(|m| m.run_id == r.run.id);
                        let loss = m.and_then(|m| last_value(m, Metric::TestLoss)).map_or("—".into(), |v| format!("{v:.4}"));
                        let acc = m.and_then(|m| last_value(m, Metric::TestAcc)).map_or("—".into(), |v| format!("{:.2}%", 100.0 * v));
                        let role = match r.branch_at {
                            None => "main path".to_owned(),
                            Some(k) => format!("└ branch: decay at {u} {k}"),
                        };
                        view! {
                            <tr>
                                <td><a href=format!("/runs/{}", r.run.id)>{r.run.id}</a></td>
                                <td>{role}</td>
                                <td><span class=format!("status {}", r.run.status.as_str())>{r.run.status.as_str()}</span></td>
                                <td>{loss}</td>
                                <td>{acc}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="charts">
            <div class="card chart-card"><h2>"final test loss vs decay " {u}</h2><div class="chart" id="sweep-final-vs-k"></div></div>
            <div class="card chart-card"><h2>"final metric vs compute"</h2><div class="chart" id="sweep-compute"></div></div>
            <div class="card chart-card"><h2>"test loss, all runs"</h2><div class="chart" id="sweep-test-loss"></div></div>
            <div class="card chart-card"><h2>"learning rate"</h2><div class="chart" id="sweep-lr"></div></div>
            <div class="card chart-card"><h2>"‖α − α_mn‖ or ‖w‖"</h2><div class="chart" id="sweep-norm"></div></div>
            <div class="card chart-card"><h2>"train loss, all runs"</h2><div class="chart" id="sweep-train-loss"></div></div>
            {matches!(sweep.spec.main.experiment, Experiment::Net(_)).then(|| view! {
                <div class="card chart-card"><h2>"test accuracy, all runs"</h2><div class="chart" id="sweep-test-acc"></div></div>
            })}
        </section>
    }
}
