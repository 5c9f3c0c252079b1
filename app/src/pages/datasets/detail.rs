//! One dataset's page: its facts, the examples per class in each split as bars, the
//! normalisation every run on it applies, a grid of training samples, and deleting it.

use domain::wire::DatasetInfo;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::Badges;
use crate::api::{DeleteDataset, found, get_dataset};
use crate::components::dataset::{bytes, count, title};
use crate::components::format::format_ms;

/// `/datasets/:name`.
#[component]
pub fn DatasetPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let dataset = Resource::new(name, |name| async move { found(get_dataset(name).await) });
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match dataset.await {
                    Ok(Some(d)) => view! { <DatasetView d/> }.into_any(),
                    Ok(None) => view! {
                        <p class="notfound">"No such dataset. " <a href="/datasets">"All datasets →"</a></p>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The first 12 hex digits of a hash, the whole of it on hover.
fn short_hash(hash: Option<&str>) -> impl IntoView + use<> {
    match hash {
        Some(h) => view! { <code id="dataset-hash" title=h.to_owned()>{h.chars().take(12).collect::<String>()}"…"</code> }.into_any(),
        None => view! { <span id="dataset-hash">"— (read from the official files)"</span> }.into_any(),
    }
}

#[component]
fn DatasetView(d: DatasetInfo) -> impl IntoView {
    let [c, h, w] = d.shape;
    let images = d.kind == "images";
    let size = if images {
        view! { <dt>"image size"</dt><dd id="dataset-size">{format!("{w}×{h} pixels")}</dd><dt>"channels"</dt><dd id="dataset-channels">{channels_text(c)}</dd> }.into_any()
    } else {
        view! { <dt>"features"</dt><dd id="dataset-size">{w}</dd> }.into_any()
    };
    let registered = if d.builtin {
        String::new()
    } else {
        format!(
            " · {} on disk · registered {}",
            bytes(d.bytes),
            format_ms(d.created_at_ms)
        )
    };
    let thumbnails =
        (images && !d.builtin && d.available).then(|| view! { <Samples d=d.clone()/> });
    let deletable = (!d.builtin).then(|| view! { <DeleteButton name=d.name.clone()/> });
    view! {
        <Title text=format!("{} · datasets · Anneal", title(&d))/>
        <section class="card">
            <p class="meta"><a href="/datasets">"← all datasets"</a></p>
            <h1 id="dataset-title">{title(&d)}</h1>
            <Badges d=d.clone()/>
            <p class="meta">{format!("from {}", d.source)}{registered}</p>
            <dl class="config" id="dataset-facts">
                {size}
                <dt>"classes"</dt><dd>{d.class_names.len()}</dd>
                <dt>"train"</dt><dd id="dataset-train">{count(d.train_count())}</dd>
                <dt>"test"</dt><dd id="dataset-test">{count(d.test_count())}</dd>
                <dt>"content hash"</dt><dd>{short_hash(d.hash.as_deref())}</dd>
            </dl>
            <p class="card-links"><a href=format!("/?dataset={}", d.name) id="train-on-it">"Train a network on it →"</a></p>
        </section>
        <div class="dataset-panels">
            <section class="card">
                <h2>"Examples per class"</h2>
                <ClassBars d=d.clone()/>
            </section>
            <section class="card">
                <h2>"Normalisation"</h2>
                <Normalisation d=d.clone()/>
            </section>
        </div>
        {thumbnails}
        {deletable}
    }
}

fn channels_text(c: u32) -> String {
    match c {
        1 => "1 (grayscale)".into(),
        3 => "3 (RGB)".into(),
        n => n.to_string(),
    }
}

/// One row per class: a bar for its training examples and one for its test examples, on one
/// scale (the largest count), with the counts beside them.
#[component]
fn ClassBars(d: DatasetInfo) -> impl IntoView {
    let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
    let most = d
        .train_per_class
        .iter()
        .chain(&d.test_per_class)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let pct = move |n: u32| format!("width: {:.1}%", 100.0 * f64::from(n) / f64::from(most));
    view! {
        <p class="legend"><span><span class="swatch train"></span>"train"</span><span><span class="swatch test"></span>"test"</span></p>
        <div class="class-bars" id="class-counts">
            {d.class_names.iter().enumerate().map(|(i, name)| {
                let (train, test) = (at(&d.train_per_class, i), at(&d.test_per_class, i));
                view! {
                    <div class="class-row" data-class=name.clone()>
                        <span class="class-name" title=name.clone()>{name.clone()}</span>
                        <span class="bars">
                            <span class="bar train" style=pct(train) title=format!("{train} train")></span>
                            <span class="bar test" style=pct(test) title=format!("{test} test")></span>
                        </span>
                        <span class="class-count">{format!("{} / {}", count(train), count(test))}</span>
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

/// The per-channel mean and standard deviation every run on the dataset normalises by.
#[component]
fn Normalisation(d: DatasetInfo) -> impl IntoView {
    if d.mean.is_empty() {
        return view! {
            <p class="meta" id="normalisation">"Not computed for this dataset: its loader applies the usual constants of the built-in dataset."</p>
        }
        .into_any();
    }
    let name = |i: usize| match (d.mean.len(), i) {
        (1, _) => "all".to_owned(),
        (3, 0) => "R".to_owned(),
        (3, 1) => "G".to_owned(),
        (3, 2) => "B".to_owned(),
        (_, i) => format!("{}", i + 1),
    };
    view! {
        <table class="runs normalisation" id="normalisation">
            <thead><tr><th>"channel"</th><th>"mean"</th><th>"std"</th></tr></thead>
            <tbody>
                {d.mean.iter().enumerate().map(|(i, m)| view! {
                    <tr><td>{name(i)}</td><td>{format!("{m:.4}")}</td><td>{format!("{:.4}", d.std.get(i).copied().unwrap_or(f32::NAN))}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <p class="hint">"Computed on the training split, pixels scaled to [0, 1]. Every run on this dataset subtracts the mean and divides by the std, channel by channel."</p>
    }
    .into_any()
}

/// The first training images of each class, one row per class in class order, the class names
/// beside their rows.
#[component]
fn Samples(d: DatasetInfo) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Samples"</h2>
            <p class="meta">"The first 8 training images of each class."</p>
            <div class="samples" id="samples">
                <ol class="sample-labels">
                    {d.class_names.iter().map(|n| view! { <li title=n.clone()>{n.clone()}</li> }).collect_view()}
                </ol>
                <img src=format!("/api/datasets/{}/samples.png", d.name) alt=format!("sample images of {}, one row per class", d.name) class="sample-grid"/>
            </div>
        </section>
    }
}

/// Delete, with a second click to confirm; a refusal (runs still use it) shows its message.
#[component]
fn DeleteButton(name: String) -> impl IntoView {
    let delete = ServerAction::<DeleteDataset>::new();
    let confirming = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            navigate("/datasets", Default::default());
        }
    });
    let refusal = move || match delete.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let on_click = move |_| {
        if confirming.get_untracked() {
            confirming.set(false);
            delete.dispatch(DeleteDataset { name: name.clone() });
        } else {
            confirming.set(true);
        }
    };
    view! {
        <section class="card danger-zone">
            <h2>"Delete"</h2>
            <p class="meta">"Removes every version. Refused while runs trained on it exist: delete those first."</p>
            <button type="button" class="danger" id="delete-dataset" on:click=on_click disabled=move || delete.pending().get()>
                {move || if confirming.get() { "Really delete every version?" } else { "Delete dataset" }}
            </button>
            <Show when=move || refusal().is_some()>
                <p class="form-error" id="delete-refusal">{refusal}</p>
            </Show>
        </section>
    }
}
