//! Loss landscapes in the browser: the launcher on run and sweep pages, the job page (live
//! progress, cancel, then the train and test maps side by side), and the list of jobs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::format_ms;
use crate::api::{
    CancelLandscape, CreateLandscape, found, get_landscape, landscape_result, list_landscapes,
};
use crate::landscape::{SvgLandscape, TEST_DIV, TRAIN_DIV, figures, reading};
use domain::wire::{
    FieldError, Landscape, LandscapeMethod, LandscapeRequest, LandscapeSource, LandscapeSpec,
    LandscapeSummary, RunStatus, ShareKind,
};

fn source_link(source: LandscapeSource) -> (String, String) {
    match source {
        LandscapeSource::Run { id } => (format!("/runs/{id}"), format!("run {id}")),
        LandscapeSource::Sweep { id } => (format!("/sweeps/{id}"), format!("sweep {id}")),
    }
}

/// The form under a finished run or sweep: grid, margin and plane, then off to the job page.
#[component]
pub fn LandscapeLauncher(source: LandscapeSource) -> impl IntoView {
    let defaults = LandscapeSpec::default();
    let grid = RwSignal::new(defaults.grid.to_string());
    let margin = RwSignal::new(defaults.margin.to_string());
    let method = RwSignal::new("pca".to_owned());
    let seed = RwSignal::new("0".to_owned());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<String>);
    let start = ServerAction::<CreateLandscape>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(result) = start.value().get()
            && let Some(created) = super::answered(result, |es| errors.set(es), failure)
        {
            navigate(&format!("/landscapes/{}", created.id), Default::default());
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        let mut local = Vec::new();
        let parse_or = |v: String, f: &str, local: &mut Vec<FieldError>| {
            v.trim().parse::<f64>().ok().or_else(|| {
                local.push(FieldError {
                    field: f.into(),
                    message: "must be a number".into(),
                });
                None
            })
        };
        let g = parse_or(grid.get_untracked(), "spec.grid", &mut local);
        let m = parse_or(margin.get_untracked(), "spec.margin", &mut local);
        let s = seed.get_untracked().trim().parse::<u64>().ok();
        let method = match method.get_untracked().as_str() {
            "curved_pca" => LandscapeMethod::CurvedPca,
            "random" => LandscapeMethod::RandomFilterNormalized {
                seed: s.unwrap_or(0),
            },
            _ => LandscapeMethod::Pca,
        };
        let (Some(g), Some(m)) = (g, m) else {
            errors.set(local);
            return;
        };
        let spec = LandscapeSpec {
            grid: if g.fract() == 0.0 && g >= 0.0 && g <= f64::from(u32::MAX) {
                g as u32
            } else {
                0
            },
            margin: m,
            method,
        };
        // The same validation the server applies, so mistakes show before a round trip.
        if let Err(es) = spec.validate() {
            errors.set(
                es.into_iter()
                    .map(|e| FieldError {
                        field: format!("spec.{}", e.field),
                        message: e.message,
                    })
                    .collect(),
            );
            return;
        }
        errors.set(Vec::new());
        start.dispatch(CreateLandscape {
            req: LandscapeRequest { source, spec },
        });
    };
    let err = move |f: &'static str| {
        move || {
            errors
                .get()
                .into_iter()
                .find(|e| e.field == f)
                .map(|e| view! { <span class="field-error">{e.message}</span> })
        }
    };
    view! {
        <form class="card landscape-launcher" novalidate on:submit=on_submit>
            <h2>"Loss landscape"</h2>
            <p class="meta">"Projects every checkpoint onto a plane and evaluates the train and test loss on a grid over it."</p>
            <div class="row">
                <label>"grid (points per axis) "
                    <input id="ls-grid" type="number" min="3" max="51" prop:value=move || grid.get()
                        on:input=move |ev| grid.set(event_target_value(&ev))/>
                    {err("spec.grid")}
                </label>
                <label>"margin "
                    <input id="ls-margin" type="number" step="0.05" min="0" max="2" prop:value=move || margin.get()
                        on:input=move |ev| margin.set(event_target_value(&ev))/>
                    {err("spec.margin")}
                </label>
                <label>"plane "
                    <select id="ls-method" on:change=move |ev| method.set(event_target_value(&ev))>
                        <option value="pca">"PCA of the trajectory"</option>
                        <option value="curved_pca">"curved PCA sheet (PC3 quadratic in PC1)"</option>
                        <option value="random">"filter-normalised random directions"</option>
                    </select>
                </label>
                <label class:hidden=move || method.get() != "random">"seed "
                    <input id="ls-seed" type="number" min="0" prop:value=move || seed.get()
                        on:input=move |ev| seed.set(event_target_value(&ev))/>
                </label>
                <button id="ls-start" type="submit">"Compute landscape"</button>
            </div>
            {err("source.id")}
            {move || failure.get().map(|f| view! { <p class="form-error">{f}</p> })}
            <LandscapeList source=Some(source)/>
        </form>
    }
}

/// Landscapes computed so far, of one source or all.
#[component]
pub fn LandscapeList(source: Option<LandscapeSource>) -> impl IntoView {
    let list = Resource::new(
        move || source,
        |s| {
            let (run, sweep) = match s {
                Some(LandscapeSource::Run { id }) => (Some(id), None),
                Some(LandscapeSource::Sweep { id }) => (None, Some(id)),
                None => (None, None),
            };
            list_landscapes(run, sweep)
        },
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(items) if items.is_empty() => ().into_any(),
                    Ok(items) => view! {
                        <table class="runs landscapes">
                            <thead><tr><th>"#"</th><th>"landscape"</th><th>"grid"</th><th>"status"</th><th>"created"</th></tr></thead>
                            <tbody>
                                {items.into_iter().map(|l| view! {
                                    <tr>
                                        <td>{l.id}</td>
                                        <td><a href=format!("/landscapes/{}", l.id)>{l.name.clone()}</a></td>
                                        <td>{format!("{0}×{0}", l.spec.grid)}</td>
                                        <td><span class=format!("status {}", l.status.as_str())>{l.status.as_str()}</span></td>
                                        <td>{format_ms(l.created_at_ms)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
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
        crate::chart::follow_landscape(id, move |s, done| {
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
                <super::share::ShareButton kind=ShareKind::Landscape id=id/>
            </section>
        })}
    }
}

/// The finished picture: both maps, the explained variance and the reading, with a
/// server-drawn fallback that is hidden once Plotly has drawn.
#[component]
pub fn LandscapeMaps(landscape: Landscape) -> impl IntoView {
    let interactive = RwSignal::new(false);
    {
        let l = landscape.clone();
        Effect::new(move |_| {
            let [train, test] = figures(&l);
            crate::chart::plot(TRAIN_DIV, train.0, train.1);
            crate::chart::plot(TEST_DIV, test.0, test.1);
            interactive.set(true);
        });
    }
    let l = &landscape;
    // The toy model with d = 2 is drawn in its own weights, with its minima curve.
    let exact = l.w_mn.is_some();
    let warnings = l.warnings();
    let text = reading(l);
    view! {
        <section class="card landscape">
            <p class="conclusion" id="landscape-reading">{text}</p>
            {(!warnings.is_empty()).then(|| view! {
                <ul class="warnings" id="landscape-warnings">
                    {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                </ul>
            })}
            <div class="landscape-maps">
                <div class="map-card">
                    <div class="chart map" id=TRAIN_DIV></div>
                    <div class="static-chart" class:hidden=move || interactive.get()>
                        <SvgLandscape landscape=landscape.clone() test=false/>
                    </div>
                </div>
                <div class="map-card">
                    <div class="chart map" id=TEST_DIV></div>
                    <div class="static-chart" class:hidden=move || interactive.get()>
                        <SvgLandscape landscape=landscape.clone() test=true/>
                    </div>
                </div>
                <aside class="variance" id="landscape-variance">
                    <h3>"Explained variance"</h3>
                    {if exact {
                        view! { <p class="meta">"Exact: the axes are the model's two weights, so nothing is projected."</p> }.into_any()
                    } else if l.explained_variance.is_empty() {
                        view! { <p class="meta">"Not principal components: the axes are random directions around the final point."</p> }.into_any()
                    } else {
                        view! {
                            <table class="runs">
                                <tbody>
                                    {l.explained_variance.iter().enumerate().map(|(i, v)| view! {
                                        <tr><td>{format!("PC{}", i + 1)}</td><td>{format!("{:.1}%", 100.0 * v)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                    <p class="meta" class:hidden=exact>{format!("largest distance of a checkpoint to the plane: {:.1}% of the trajectory's RMS distance from its centre", 100.0 * l.max_rel_projection_error)}</p>
                    <p class="meta">{format!("{} parameters · {} checkpoints · computed in {:.1} s", l.num_params, l.num_checkpoints, l.elapsed_secs)}</p>
                </aside>
            </div>
        </section>
    }
}
