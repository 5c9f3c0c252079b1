//! A run's page: its config, the device that ran it, and curves that stream in live.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use spec::Experiment;

use super::format_ms;
use crate::api::{CancelRun, get_run};
use crate::chart::{self, ChartDef};
use crate::wire::{Progress, RunStatus, RunSummary};

/// The charts of a toy run: loss, LR, and the norms that show the drift to α_mn.
pub const TOY_CHARTS: &[ChartDef] = &[
    ChartDef {
        div: "chart-loss",
        title: "loss",
        log_y: true,
        series: &[("train_loss", "train loss"), ("test_loss", "test loss")],
    },
    ChartDef { div: "chart-lr", title: "learning rate", log_y: false, series: &[("lr", "LR")] },
    ChartDef {
        div: "chart-norms",
        title: "norms",
        log_y: false,
        series: &[("w_norm", "‖w‖"), ("dist_mn", "‖α − α_mn‖")],
    },
];

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let run = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_run(id).await,
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

    chart::attach_live(id, TOY_CHARTS, move |change| {
        status.set(change.status);
        if change.message.is_some() {
            message.set(change.message);
        }
        if change.backend.is_some() {
            backend.set(change.backend);
            device.set(change.device);
        }
    }, move |p| progress.set(Some(p)));

    let Experiment::Toy(toy) = &run.spec.experiment;
    let config = vec![
        ("d", toy.d.to_string()),
        ("n", toy.n.to_string()),
        ("γ", toy.gamma.to_string()),
        ("label noise σ", toy.label_noise.to_string()),
        ("batch", toy.batch.to_string()),
        ("steps", toy.steps.to_string()),
        ("seed", run.spec.seed.to_string()),
        ("schedule", run.spec.schedule.describe()),
    ];
    let pct = move || {
        progress.get().map(|p| format!("step {} / {} · {:.0} samples/s", p.step, p.total_steps, p.samples_per_sec))
    };
    view! {
        <section class="card">
            <h1>"Run " {id} " · toy model"</h1>
            <p class="meta">
                <span id="run-status" class=move || format!("status {}", status.get().as_str())>
                    {move || status.get().as_str()}
                </span>
                " · backend "
                <span id="run-backend">{move || backend.get().unwrap_or_else(|| "—".into())}</span>
                " on "
                <span id="run-device">{move || device.get().unwrap_or_else(|| "—".into())}</span>
                " · created " {format_ms(run.created_at_ms)}
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
            <dl class="config">
                {config.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            </dl>
        </section>
        <section class="charts">
            {TOY_CHARTS.iter().map(|c| view! {
                <div class="card chart-card">
                    <h2>{c.title}</h2>
                    <div class="chart" id=c.div></div>
                </div>
            }).collect_view()}
        </section>
    }
}
