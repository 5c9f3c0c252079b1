//! Loss landscapes: the list of jobs, and a job's page (live progress, cancel, then the train
//! and test maps side by side). The launcher on run and sweep pages is a component.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{CancelLandscape, found, get_landscape, landscape_result};
use crate::components::landscape::{LandscapeList, LandscapeMaps};
use crate::components::share_button::ShareButton;
use domain::wire::{
    Landscape, LandscapeMethod, LandscapeSource, LandscapeSummary, RunStatus, ShareKind,
};

fn source_link(source: LandscapeSource) -> (String, String) {
    match source {
        LandscapeSource::Run { id } => (format!("/runs/{id}"), format!("run {id}")),
        LandscapeSource::Sweep { id } => (format!("/sweeps/{id}"), format!("sweep {id}")),
    }
}

#[component]
pub fn LandscapesPage() -> impl IntoView {
    view! {
        <Title text="Loss landscapes · Anneal"/>
        <section class="card">
            <h1>"Loss landscapes"</h1>
            <p class="meta">"Start one from a finished run or sweep."</p>
            <LandscapeList source=None/>
        </section>
    }
}

#[component]
pub fn LandscapePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    // Bumped when the job finishes, to fetch the maps.
    let finished = RwSignal::new(0u32);
    let job = Resource::new(
        move || (id(), finished.get()),
        |(id, _)| async move {
            let Some(id) = id else {
                return Ok::<_, crate::api::Refusal>(None);
            };
            let Some(summary) = found(get_landscape(id).await)? else {
                return Ok(None);
            };
            // The maps exist once the job has completed; until then there are none to fetch.
            let result = if summary.status == RunStatus::Completed {
                found(landscape_result(id).await)?
            } else {
                None
            };
            Ok(Some((summary, result)))
        },
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Ok(Some((summary, result))) => view! {
                        <JobView summary result finished/>
                    }.into_any(),
                    Ok(None) => view! { <p class="notfound">"No such landscape."</p> }.into_any(),
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn JobView(
    summary: LandscapeSummary,
    result: Option<Landscape>,
    finished: RwSignal<u32>,
) -> impl IntoView {
    let id = summary.id;
    let state = RwSignal::new(summary.clone());
    let live = matches!(summary.status, RunStatus::Queued | RunStatus::Running);
    if live {
        crate::components::chart::follow_landscape(id, move |s, done| {
            state.set(s);
            if done {
                finished.update(|n| *n += 1);
            }
        });
    }
    let cancel = ServerAction::<CancelLandscape>::new();
    let (href, of) = source_link(summary.source);
    let spec = summary.spec.clone();
    view! {
        <Title text=format!("{} · Anneal", summary.name)/>
        <section class="card">
            <h1 id="landscape-title">{summary.name.clone()}</h1>
            <p class="meta">
                "of " <a href=href>{of}</a>
                {format!(" · {0}×{0} grid · margin {1}", spec.grid, spec.margin)}
                {match spec.method { LandscapeMethod::RandomFilterNormalized { seed } => format!(" · seed {seed}"), _ => String::new() }}
            </p>
            <p>
                <span id="landscape-status" class=move || format!("status {}", state.get().status.as_str())>
                    {move || state.get().status.as_str()}
                </span>
                {move || state.get().message.map(|m| format!(" · {m}"))}
            </p>
            {move || {
                let s = state.get();
                let running = matches!(s.status, RunStatus::Queued | RunStatus::Running);
                running.then(|| {
                    let (phase, done, total) = s.progress.map_or(("waiting".to_owned(), 0, 0), |p| (p.phase, p.done, p.total));
                    let pct = if total > 0 { 100.0 * done as f64 / total as f64 } else { 0.0 };
                    view! {
                        <div class="progress" id="landscape-progress">
                            <progress max="100" value=pct></progress>
                            <span>{format!(" {phase}: {done} / {total}")}</span>
                            " "
                            <button id="landscape-cancel" class="secondary" on:click=move |_| { cancel.dispatch(CancelLandscape { id }); }>"Cancel"</button>
                        </div>
                    }
                })
            }}
        </section>
        {result.map(|l| view! {
            <LandscapeMaps landscape=l/>
            <section class="card">
                <ShareButton kind=ShareKind::Landscape id=id/>
            </section>
        })}
    }
}
