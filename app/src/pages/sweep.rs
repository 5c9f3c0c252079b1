//! A decay sweep: the lineage of main runs and branches per seed, all curves on shared axes (a
//! mean and band over seeds), the final metrics against the decay point with 95% intervals
//! (with Pearson r), accuracy against compute, the verdict with its uncertainty, and adding
//! seeds.

use experiment::Experiment;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{AddSweepSeeds, Refusal, found, get_sweep, sweep_metrics, sweep_prediction};
use crate::components::branch_stats::BranchStats;
use crate::components::chart::{ChartOptions, XAxis};
use crate::components::format::format_ms;
use crate::components::landscape::LandscapeLauncher;
use crate::components::share_button::ShareButton;
use domain::Metric;
use domain::analysis::{Spread, last_value, pearson_line, sweep_report};
use domain::prediction::{LawPrediction, SweepPrediction};
use domain::wire::{LandscapeSource, RunMetrics, RunStatus, ShareKind, SweepSummary};

#[component]
pub fn SweepPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let tick = RwSignal::new(0u32);
    // Owned here, not by the view it refreshes, so its answer outlives the redraw.
    let add_seeds = ServerAction::<AddSweepSeeds>::new();
    let sweep = Resource::new(
        move || (id(), tick.get(), add_seeds.version().get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => found(get_sweep(id).await),
                None => Ok(None),
            }
        },
    );
    let metrics = Resource::new(
        move || (id(), tick.get(), add_seeds.version().get()),
        |(id, _, _)| async move {
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
    // Refitted only when another run finishes, not on every poll: a fit costs the server
    // about a second.
    let completed = Memo::new(move |_| {
        sweep.get().and_then(Result::ok).flatten().map_or(0, |s| {
            s.runs
                .iter()
                .filter(|r| r.run.status == RunStatus::Completed)
                .count()
        })
    });
    let prediction = Resource::new(
        move || (id(), completed.get()),
        |(id, done)| async move {
            match id {
                Some(id) if done >= 2 => Some(sweep_prediction(id).await),
                _ => None,
            }
        },
    );
    let show_prediction = RwSignal::new(true);
    // Chart controls live outside the polled view so they survive every refresh.
    let opts = RwSignal::new(ChartOptions::default());
    view! {
        <ChartControls opts show_prediction/>
        <Suspense fallback=|| view! { <p>"Loading sweep…"</p> }>
            {move || Suspend::new(async move {
                let (s, m) = (sweep.await, metrics.await);
                match (s, m) {
                    (Ok(Some(s)), Ok(m)) => view! { <SweepView sweep=s metrics=m opts=opts.into() add_seeds prediction show_prediction/> }.into_any(),
                    (Ok(None), _) => view! { <p class="notfound">"No such sweep."</p> }.into_any(),
                    (Err(e), _) | (_, Err(e)) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The chart controls above the sweep: axes, smoothing, the band over seeds, each seed, and
/// the loss-law predictions.
#[component]
fn ChartControls(opts: RwSignal<ChartOptions>, show_prediction: RwSignal<bool>) -> impl IntoView {
    let get = move |f: fn(&ChartOptions) -> bool| move || opts.with(f);
    view! {
        <div class="card preview-controls chart-controls">
            <label><input id="ctl-log" type="checkbox" prop:checked=get(|o| o.log_y)
                on:change=move |ev| opts.update(|o| o.log_y = event_target_checked(&ev))/>" log y (losses, LR)"</label>
            <label>"x-axis "
                <select id="ctl-x" on:change=move |ev| opts.update(|o| o.x = match event_target_value(&ev).as_str() {
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
                <input id="ctl-smooth" type="range" min="0" max="0.99" step="0.01" prop:value=move || opts.with(|o| o.smoothing.to_string())
                    on:input=move |ev| opts.update(|o| o.smoothing = event_target_value(&ev).parse().unwrap_or(0.0))/>
                {move || format!(" {:.2}", opts.with(|o| o.smoothing))}
            </label>
            <label>"band over seeds "
                <select id="ctl-band" on:change=move |ev| opts.update(|o| o.spread = match event_target_value(&ev).as_str() {
                    "minmax" => Spread::MinMax,
                    _ => Spread::Sd,
                })>
                    <option value="sd">"mean ± 1 sd"</option>
                    <option value="minmax">"min – max"</option>
                </select>
            </label>
            <label><input id="ctl-seeds" type="checkbox" prop:checked=get(|o| o.show_seeds)
                on:change=move |ev| opts.update(|o| o.show_seeds = event_target_checked(&ev))/>" each seed"</label>
            <label><input id="ctl-predict" type="checkbox" prop:checked=move || show_prediction.get()
                on:change=move |ev| show_prediction.set(event_target_checked(&ev))/>" loss-law predictions (dashed)"</label>
            <span class="hint">"Curves keep each bucket's min, max and last point; smoothing is never applied to the LR, and the raw curve stays faintly behind; click a legend entry to hide a series."</span>
        </div>
    }
}

#[component]
fn SweepView(
    sweep: SweepSummary,
    metrics: Vec<RunMetrics>,
    opts: Signal<ChartOptions>,
    add_seeds: ServerAction<AddSweepSeeds>,
    prediction: Resource<Option<Result<SweepPrediction, Refusal>>>,
    show_prediction: RwSignal<bool>,
) -> impl IntoView {
    let report = sweep_report(&sweep, &metrics);
    let u = sweep.unit();
    let done = sweep
        .runs
        .iter()
        .filter(|r| r.run.status.is_terminal())
        .count();
    let seeds = sweep.seeds();
    {
        let (sweep, metrics, report) = (sweep.clone(), metrics.clone(), report.clone());
        Effect::new(move |_| {
            let p = prediction
                .get()
                .flatten()
                .and_then(Result::ok)
                .filter(|_| show_prediction.get());
            crate::components::sweep_chart::draw_sweep(
                &sweep,
                &metrics,
                &report,
                opts.get(),
                p.as_ref(),
            );
        });
    }
    view! {
        <section class="card">
            <h1>"Sweep " {sweep.id} " · " {sweep.name.clone()}</h1>
            <p class="meta">
                {format!("{} of {} runs finished · {} · created {}", done, sweep.runs.len(),
                    seed_list(&seeds), format_ms(sweep.created_at_ms))}
            </p>
            <p class="conclusion" id="sweep-conclusion">{report.conclusion.clone()}</p>
            <p class="meta" id="sweep-pearson">
                {pearson_line(&report.pearson, u)}
            </p>
            <p class="meta method" id="sweep-method">{format!("How: {}.", report.method)}</p>
            <BranchStats report=report.clone()/>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match prediction.await {
                        Some(Ok(p)) => view! { <PredictionPanel p/> }.into_any(),
                        Some(Err(e)) => view! {
                            <p class="meta" id="prediction-none">{format!("No loss-law prediction yet: {}.", e.0.error)}</p>
                        }.into_any(),
                        None => ().into_any(),
                    }
                })}
            </Transition>
            <AddSeeds id=sweep.id seeds=seeds.clone() action=add_seeds/>
            <p class="exports">
                "Export the summary (per-seed rows and the aggregates): "
                <a href=format!("/api/sweeps/{}/summary?format=csv", sweep.id) download>"CSV"</a>
                " · "
                <a href=format!("/api/sweeps/{}/summary", sweep.id) download>"JSON"</a>
                " · each run's metrics from its page"
            </p>
            <ShareButton kind=ShareKind::Sweep id=sweep.id/>
            {match &sweep.spec.main.experiment {
                Experiment::Toy(t) => t.d == 2,
                Experiment::Net(_) => true,
            }.then(|| view! {
                <LandscapeLauncher source=LandscapeSource::Sweep { id: sweep.id }/>
            })}
            {lineage_table(&sweep, &metrics)}
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

/// Every run of the sweep: its seed, its role (main path, a branch and its decay point, the
/// baseline), its status and final test metrics.
fn lineage_table(sweep: &SweepSummary, metrics: &[RunMetrics]) -> impl IntoView + use<> {
    let unit = sweep.unit();
    view! {
        <table class="runs" id="lineage">
        <thead><tr><th>"run"</th><th>"seed"</th><th>"role"</th><th>"status"</th><th>"final test loss"</th><th>"final test acc"</th></tr></thead>
        <tbody>
            {sweep.runs.iter().map(|r| {
                let m = metrics.iter().find(|m| m.run_id == r.run.id);
                let loss = m.and_then(|m| last_value(m, Metric::TestLoss)).map_or("—".into(), |v| format!("{v:.4}"));
                let acc = m.and_then(|m| last_value(m, Metric::TestAcc)).map_or("—".into(), |v| format!("{:.2}%", 100.0 * v));
                let role = match r.branch_at {
                    _ if r.baseline => "schedule-free baseline (no decay)".to_owned(),
                    None => "main path".to_owned(),
                    Some(k) => format!("└ branch: decay at {unit} {k}"),
                };
                view! {
                    <tr>
                        <td><a href=format!("/runs/{}", r.run.id)>{r.run.id}</a></td>
                        <td>{r.seed}</td>
                        <td>{role}</td>
                        <td><span class=format!("status {}", r.run.status.as_str())>{r.run.status.as_str()}</span></td>
                        <td>{loss}</td>
                        <td>{acc}</td>
                    </tr>
                }
            }).collect_view()}
        </tbody>
    </table>
    }
}

/// "seed 0" or "seeds 0, 1, 2".
pub fn seed_list(seeds: &[u64]) -> String {
    let list = seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if seeds.len() == 1 {
        format!("seed {list}")
    } else {
        format!("{} seeds ({list})", seeds.len())
    }
}

/// Adds seeds to the sweep: each a new main path and its branches; the existing runs stay.
#[component]
fn AddSeeds(id: i64, seeds: Vec<u64>, action: ServerAction<AddSweepSeeds>) -> impl IntoView {
    let next = seeds.iter().max().map_or(0, |m| m + 1);
    let text = RwSignal::new(format!("{next}:{}:1", next + 2));
    let unreadable = RwSignal::new(None::<String>);
    let error = move || {
        unreadable.get().or_else(|| match action.value().get() {
            Some(Err(e)) if !e.0.field_errors().is_empty() => Some(
                e.0.field_errors()
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        })
    };
    let add = move |_| match experiment::parse_points(&text.get_untracked()) {
        Ok(seeds) => {
            unreadable.set(None);
            action.dispatch(AddSweepSeeds { id, seeds });
        }
        Err(m) => unreadable.set(Some(format!("seeds: {m}"))),
    };
    view! {
        <div class="add-seeds">
            <label>"add seeds (a list or start:stop:step) "
                <input id="add-seeds" type="text" prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))/>
            </label>
            " "
            <button type="button" class="secondary" id="add-seeds-go" on:click=add
                disabled=move || action.pending().get()>"Add seeds"</button>
            <span class="hint">" Each new seed trains its own main path and branches on the same data; the summary updates as they finish."</span>
            {move || error().map(|e| view! { <p class="form-error" id="add-seeds-error">{e}</p> })}
            {move || action.value().get().and_then(Result::ok).map(|c| view! {
                <p class="meta" id="add-seeds-done">{format!("Queued {} more runs.", c.runs.len())}</p>
            })}
        </div>
    }
}

fn pct(x: Option<f64>) -> String {
    x.filter(|x| x.is_finite())
        .map_or("—".into(), |x| format!("{:+.2}%", 100.0 * x))
}

fn params_line(m: &std::collections::BTreeMap<String, f64>) -> String {
    m.iter()
        .map(|(k, v)| {
            if *v != 0.0 && !(1e-3..1e4).contains(&v.abs()) {
                format!("{k} = {v:.3e}")
            } else {
                format!("{k} = {v:.4}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each loss law: what it was fitted on, its parameters, and per held-out branch its predicted
/// final losses beside the measured ones, with the errors that say how far to trust it.
#[component]
fn PredictionPanel(p: SweepPrediction) -> impl IntoView {
    let unit = p.unit.clone();
    view! {
        <div id="prediction" class="prediction">
            <h2>"Predicted from the main path and the earliest branch"</h2>
            {p.laws.iter().map(|l| view! { <LawTable l=l.clone() unit=unit.clone()/> }).collect_view()}
            <p class="meta method" id="prediction-method">{format!("How: {}", p.method)}</p>
        </div>
    }
}

#[component]
fn LawTable(l: LawPrediction, unit: String) -> impl IntoView {
    let key = l.law.key();
    let class = if l.poor_fit {
        "law-assessment poor"
    } else {
        "law-assessment"
    };
    let fitted = format!(
        "Fitted on runs {} (main paths and decay at {unit} {}).",
        l.fitted_on
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        l.fitted_k
    );
    let rec = l.recommendation.as_ref().map(|r| format!(
        "For a budget of {} {unit}s it recommends {} (predicted final test loss {:.4}); the best measured decay point is {}.",
        r.budget,
        if r.k >= r.budget { "not decaying at all".to_owned() } else { format!("decaying at {unit} {}", r.k) },
        r.predicted_final_test_loss,
        l.best_measured_k.map_or("—".into(), |k| format!("{unit} {k}"))
    ));
    view! {
        <div class="law" id=format!("law-{key}")>
            <h3>{l.label.clone()} <span class="formula">{format!(" {}", l.formula)}</span></h3>
            <p class=class>{l.assessment.clone()}</p>
            {l.error.is_none().then(|| view! {
                <p class="meta">{fitted} " Test loss: " {params_line(&l.params)} "; train loss: " {params_line(&l.train_params)} "."</p>
                <table class="runs prediction-table" id=format!("prediction-{key}")>
                    <thead><tr>
                        <th>{format!("decay {unit} k")}</th><th>"seeds"</th>
                        <th>"final test loss: predicted"</th><th>"measured"</th><th>"error"</th><th>"curve error"</th>
                        <th>"final train loss: predicted"</th><th>"measured"</th><th>"error"</th>
                    </tr></thead>
                    <tbody>
                        {l.branches.iter().map(|b| view! {
                            <tr>
                                <td>{b.k}</td><td>{b.n}</td>
                                <td>{format!("{:.4}", b.predicted_final_test_loss)}</td>
                                <td>{format!("{:.4}", b.actual_final_test_loss)}</td>
                                <td class="rel-error">{pct(Some(b.rel_error))}</td>
                                <td>{pct(Some(b.curve_rel_error)).trim_start_matches('+').to_owned()}</td>
                                <td>{b.predicted_final_train_loss.map_or("—".into(), |v| format!("{v:.3e}"))}</td>
                                <td>{b.actual_final_train_loss.map_or("—".into(), |v| format!("{v:.3e}"))}</td>
                                <td>{pct(b.train_rel_error)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <p class="meta law-errors">{format!(
                    "Mean |error|: final test loss {}, test curve {}, final train loss {}, train curve {}. Kendall τ (predicted vs measured order of decay points): {}.",
                    pct(l.mean_abs_rel_error).trim_start_matches('+'),
                    pct(l.mean_curve_rel_error).trim_start_matches('+'),
                    pct(l.train_mean_abs_rel_error).trim_start_matches('+'),
                    pct(l.train_mean_curve_rel_error).trim_start_matches('+'),
                    l.kendall_tau.map_or("—".into(), |t| format!("{t:.2}"))
                )}</p>
                {rec.clone().map(|r| view! { <p class="meta law-recommendation">{r}</p> })}
            })}
        </div>
    }
}
