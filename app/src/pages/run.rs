//! A run's page: its config, the device that ran it, and curves that stream in live.

use experiment::Experiment;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{CancelRun, ResumeRun, found, get_run};
use crate::components::chart;
use crate::components::format::format_ms;
use crate::components::landscape::LandscapeLauncher;
use crate::components::run_charts::charts_for;
use crate::components::run_config::config_list;
use crate::components::share_button::ShareButton;
use domain::wire::{LandscapeSource, Progress, Resumed, RunStatus, RunSummary, ShareKind};

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let run = Resource::new(id, |id| async move {
        match id {
            Some(id) => found(get_run(id).await),
            None => Ok(None),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p>"Loading run…"</p> }>
            {move || Suspend::new(async move {
                match run.await {
                    Ok(Some(r)) => view! { <RunView run=r/> }.into_any(),
                    Ok(None) => view! { <p class="notfound">"No such run."</p> }.into_any(),
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RunView(run: RunSummary) -> impl IntoView {
    let id = run.id;
    let status = RwSignal::new(run.status);
    let message = RwSignal::new(run.message.clone());
    let backend = RwSignal::new(run.backend.clone());
    let device = RwSignal::new(run.device.clone());
    let progress = RwSignal::new(None::<Progress>);
    let cancel = ServerAction::<CancelRun>::new();
    let resume = ServerAction::<ResumeRun>::new();
    let charts = charts_for(&run.spec.experiment);
    let title = match &run.spec.experiment {
        Experiment::Toy(_) => "toy model".to_owned(),
        Experiment::Net(n) => n.dataset.label(),
    };

    Effect::new(move |_| {
        if let Some(Ok(Resumed { resumed: true })) = resume.value().get() {
            // The stream ended at the interruption; reload to follow the resumed run.
            #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        }
    });

    chart::attach_live(
        id,
        charts,
        move |change| {
            status.set(change.status);
            if change.message.is_some() {
                message.set(change.message);
            }
            if change.backend.is_some() {
                backend.set(change.backend);
                device.set(change.device);
            }
        },
        move |p| progress.set(Some(p)),
    );

    // A toy run's weights are only kept (as metric rows) when d = 2, where the map is exact.
    let drawable = match &run.spec.experiment {
        Experiment::Toy(t) => t.d == 2,
        Experiment::Net(_) => true,
    };
    let pct = move || {
        progress.get().map(|p| {
            format!(
                "step {} / {} · {:.0} samples/s",
                p.step, p.total_steps, p.samples_per_sec
            )
        })
    };
    view! {
        <section class="card">
            <h1>"Run " {id} " · " {title}</h1>
            <p class="meta">
                <span id="run-status" class=move || format!("status {}", status.get().as_str())>
                    {move || status.get().as_str()}
                </span>
                " · backend "
                <span id="run-backend">{move || backend.get().unwrap_or_else(|| "—".into())}</span>
                " on "
                <span id="run-device">{move || device.get().unwrap_or_else(|| "—".into())}</span>
                " · created " {format_ms(run.created_at_ms)}
                {run.executor.clone().map(|e| {
                    let job = run.executor_job_id.clone().map(|j| format!(", job {j}")).unwrap_or_default();
                    let node = run.executor_node.clone().map(|n| format!(" on {n}")).unwrap_or_default();
                    view! { " · executor " <span id="run-executor">{format!("{e}{job}{node}")}</span> }
                })}
            </p>
            <Show when=move || message.get().is_some()>
                <p class="form-error" id="run-message">{move || message.get()}</p>
            </Show>
            <p class="progress" id="run-progress">{pct}</p>
            <Show when=move || matches!(status.get(), RunStatus::Queued | RunStatus::Running)>
                <button class="secondary" id="cancel" on:click=move |_| { cancel.dispatch(CancelRun { id }); }>
                    "Cancel"
                </button>
            </Show>
            <Show when=move || status.get() == RunStatus::Interrupted>
                <button id="resume" on:click=move |_| { resume.dispatch(ResumeRun { id }); }>
                    "Resume from last checkpoint"
                </button>
            </Show>
            <p class="exports">
                "Export metrics: "
                <a id="export-csv" href=format!("/api/runs/{id}/metrics?format=csv") download>"CSV"</a>
                " · "
                <a id="export-json" href=format!("/api/runs/{id}/metrics") download>"JSON"</a>
            </p>
            <ShareButton kind=ShareKind::Run id=id/>
            {drawable.then(|| view! {
                <LandscapeLauncher source=LandscapeSource::Run { id }/>
            })}
            <Lineage run=run.clone()/>
            <dl class="config">
                {config_list(&run)}
            </dl>
        </section>
        <section class="charts">
            {charts.iter().map(|c| view! {
                <div class="card chart-card">
                    <h2>{c.title}</h2>
                    <div class="chart" id=c.div></div>
                </div>
            }).collect_view()}
        </section>
    }
}

/// Where the run comes from and what it sits beside: its sweep and seed, its parent and branch
/// point, and its siblings (the same seed's other runs), with a link comparing them.
#[component]
fn Lineage(run: RunSummary) -> impl IntoView {
    let lineage = run.lineage;
    let sweep = Resource::new(
        move || lineage.sweep_id,
        |id| async move {
            match id {
                Some(id) => crate::api::get_sweep(id).await.ok(),
                None => None,
            }
        },
    );
    let id = run.id;
    let seed = run.spec.seed;
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let sweep = sweep.await?;
                let unit = sweep.unit();
                let siblings: Vec<&domain::wire::SweepRun> =
                    sweep.runs.iter().filter(|r| r.seed == seed).collect();
                let all: Vec<String> = siblings.iter().map(|r| r.run.id.to_string()).collect();
                let baseline = sweep.runs.iter().any(|r| r.run.id == id && r.baseline);
                let role = match (lineage.parent_id, lineage.branch_at) {
                    _ if baseline => " · schedule-free baseline (no decay)".into_any(),
                    (Some(p), Some(k)) => view! {
                        " · branch of "<a id="lineage-parent" href=format!("/runs/{p}")>{format!("run {p}")}</a>
                        {format!(", decayed at {unit} {k}")}
                    }.into_any(),
                    _ => " · main path".into_any(),
                };
                Some(view! {
                    <p class="meta" id="lineage">
                        "Part of "<a id="lineage-sweep" href=format!("/sweeps/{}", sweep.id)>{format!("sweep {} · {}", sweep.id, sweep.name)}</a>
                        {format!(" (seed {seed})")}
                        {role}
                        " · siblings: "
                        {siblings.iter().filter(|r| r.run.id != id).map(|r| {
                            let label = r.label();
                            view! { <a class="sibling" href=format!("/runs/{}", r.run.id)>{label}</a>" " }
                        }).collect_view()}
                        " · "<a id="lineage-compare" href=format!("/compare?runs={}", all.join(","))>"compare them"</a>
                    </p>
                })
            })}
        </Suspense>
    }
}
