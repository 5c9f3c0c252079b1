//! Datasets: the list (every built-in and registered dataset as a card) with the upload panel,
//! and one dataset's page (`detail`): its classes and splits, normalisation, samples, deletion.

mod detail;
mod upload;

#[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
mod browser;

/// Off the browser nothing is picked or sent: the server renders the panel, the browser acts.
#[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
mod browser {
    pub fn pick_input(_: &leptos::ev::Event) -> Option<(String, f64)> {
        None
    }
    pub fn pick_dropped(_: &leptos::ev::DragEvent) -> Option<(String, f64)> {
        None
    }
    pub fn send(
        _: &str,
        _: impl Fn(f64, f64) + 'static,
        _: impl FnOnce(u16, String) + 'static,
    ) -> Result<(), String> {
        Err("Uploading needs the page's script: reload the page.".into())
    }
}

pub use detail::DatasetPage;

use domain::wire::DatasetInfo;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::list_datasets;
use crate::components::dataset::{bytes, count, shape_text, title};
use upload::UploadPanel;

/// Every dataset, then the upload panel.
#[component]
pub fn DatasetsPage() -> impl IntoView {
    let datasets = Resource::new(|| (), |_| list_datasets());
    view! {
        <Title text="Datasets · Anneal"/>
        <section class="card">
            <h1>"Datasets"</h1>
            <p class="meta">
                "The built-in datasets and those registered here. A run names its dataset; a registered "
                "one is pinned by its content hash, so a run always says exactly what it trained on."
            </p>
            <Suspense fallback=|| view! { <p>"Loading datasets…"</p> }>
                {move || Suspend::new(async move {
                    match datasets.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No datasets."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="dataset-grid" id="datasets">
                                {list.into_iter().map(|d| view! { <DatasetCard d/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <UploadPanel/>
    }
}

/// The badges of a dataset: built-in or its version, its kind, and whether it can train here.
#[component]
fn Badges(d: DatasetInfo) -> impl IntoView {
    view! {
        <p class="badges">
            <span class="badge">{if d.builtin { "built-in".to_owned() } else { format!("registered · v{}", d.version) }}</span>
            " "
            <span class="badge">{d.kind.clone()}</span>
            " "
            {if d.available {
                view! { <span class="badge ok">"available"</span> }.into_any()
            } else {
                view! { <span class="badge warn">"not available here"</span> }.into_any()
            }}
        </p>
    }
}

/// One dataset's card: what it holds, and links to its page and to a run on it.
#[component]
fn DatasetCard(d: DatasetInfo) -> impl IntoView {
    let heading = if d.builtin {
        view! { <h3>{title(&d)}</h3> }.into_any()
    } else {
        view! { <h3><a href=format!("/datasets/{}", d.name)>{d.name.clone()}</a></h3> }.into_any()
    };
    let source = if d.bytes > 0 {
        format!("{} · {}", d.source, bytes(d.bytes))
    } else {
        d.source.clone()
    };
    view! {
        <article class="dataset-card" data-dataset=d.name.clone()>
            {heading}
            <Badges d=d.clone()/>
            <dl class="config">
                <dt>"shape (C×H×W)"</dt><dd>{shape_text(d.shape)}</dd>
                <dt>"classes"</dt><dd>{d.class_names.len()}</dd>
                <dt>"train"</dt><dd>{count(d.train_count())}</dd>
                <dt>"test"</dt><dd>{count(d.test_count())}</dd>
                <dt>"source"</dt><dd>{source}</dd>
            </dl>
            <p class="card-links"><a href=format!("/?dataset={}", d.name)>"Train a network on it →"</a></p>
        </article>
    }
}
