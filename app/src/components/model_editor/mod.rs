//! The model editor: a network as a list of layers, edited row by row (add, remove, reorder,
//! residual blocks one level deep) or as JSON, started from a preset, beside a live table of
//! every layer's output shape, parameters and FLOPs. The table is `experiment::shape::infer`,
//! the very check the server validates a run with, so what the editor accepts the server
//! accepts. `draft` holds the arithmetic, `table` the table and totals.

mod draft;
mod table;

use experiment::fields::net::{MODEL_LAYERS, layer_path};
use experiment::{DatasetFacts, LayerSpec, Shortcut, model_presets};
use leptos::prelude::*;
use schedule::FieldError;

use draft::{
    Analysis, BLOCK_KINDS, KINDS, Knob, analyse, at, at_mut, channels_before, dotted, error_path,
    knobs, label, list_mut, marked, messages_at, new_layer, outline, output_at, parse_json, pretty,
    read, row_messages, write,
};
use table::ModelTable;

/// A layer list being edited, and the settings typed that are no value of theirs. Those stay
/// out of the list (it is always a spec the trainer could read) and show at their input; the
/// form refuses to submit while there are any.
#[derive(Clone, Copy)]
pub struct LayerDraft {
    pub layers: RwSignal<Vec<LayerSpec>>,
    pub typos: RwSignal<Vec<FieldError>>,
}

impl LayerDraft {
    pub fn new(layers: Vec<LayerSpec>) -> Self {
        Self {
            layers: RwSignal::new(layers),
            typos: RwSignal::new(Vec::new()),
        }
    }

    /// Puts a whole new list in (a preset, the JSON box, the form's built-in model).
    pub fn replace(self, layers: Vec<LayerSpec>) {
        self.typos.set(Vec::new());
        self.layers.set(layers);
    }
}

/// The outline of the list: each layer's kind and, for a residual block, its layers' kinds.
type Outline = Vec<(&'static str, Vec<&'static str>)>;

/// What every part of the editor reads and writes.
#[derive(Clone, Copy)]
struct Ctx {
    draft: LayerDraft,
    analysis: Memo<Analysis>,
    /// The typos and shape inference's errors together, as the inputs and rows show them.
    shown: Memo<Vec<FieldError>>,
    /// Bumped by every add, remove and move, so the rows are rebuilt with fresh inputs (a typo
    /// left in a moved row's input would otherwise stay on the wrong layer).
    generation: RwSignal<u64>,
    facts: Signal<Option<DatasetFacts>>,
}

impl Ctx {
    fn classes(self) -> u32 {
        self.facts
            .with_untracked(|f| f.as_ref().map_or(10, |f| f.classes))
    }

    fn restructure(self, f: impl FnOnce(&mut Vec<LayerSpec>)) {
        self.draft.typos.set(Vec::new());
        self.draft.layers.update(f);
        self.generation.update(|g| *g += 1);
    }

    fn replace(self, layers: Vec<LayerSpec>) {
        self.restructure(|l| *l = layers);
    }

    /// A new `kind` at `index` of the list at `parent` (the end when None).
    fn insert(self, parent: &[usize], index: Option<usize>, kind: &str) {
        let len = self.draft.layers.with_untracked(|ls| match parent {
            [] => Some(ls.len()),
            _ => match at(ls, parent) {
                Some(LayerSpec::Residual { layers, .. }) => Some(layers.len()),
                _ => None,
            },
        });
        let Some(len) = len else { return };
        let index = index.unwrap_or(len).min(len);
        let input_channels = self
            .facts
            .with_untracked(|f| f.as_ref().map_or(1, |f| f.shape[0]));
        let channels = self
            .analysis
            .with_untracked(|a| channels_before(&a.rows, parent, index, input_channels))
            .unwrap_or(16);
        let Some(layer) = new_layer(kind, channels, self.classes()) else {
            return;
        };
        self.restructure(|ls| {
            if let Some(list) = list_mut(ls, parent) {
                list.insert(index, layer);
            }
        });
    }

    fn remove(self, path: &[usize]) {
        let Some((&i, parent)) = path.split_last() else {
            return;
        };
        self.restructure(|ls| {
            if let Some(list) = list_mut(ls, parent)
                && i < list.len()
            {
                list.remove(i);
            }
        });
    }

    /// Swaps the layer at `path` with the one before it (`up`) or after it.
    fn shift(self, path: &[usize], up: bool) {
        let Some((&i, parent)) = path.split_last() else {
            return;
        };
        self.restructure(|ls| {
            if let Some(list) = list_mut(ls, parent) {
                let j = if up {
                    i.checked_sub(1)
                } else {
                    i.checked_add(1)
                };
                if let Some(j) = j.filter(|&j| j < list.len() && i < list.len()) {
                    list.swap(i, j);
                }
            }
        });
    }

    /// One setting typed: into the list when it is a value of that setting, else a typo.
    fn set_setting(self, path: &[usize], name: &str, knob: Knob, text: &str) {
        let field = layer_path(path, Some(name));
        let written = self
            .draft
            .layers
            .with_untracked(|ls| at(ls, path).map(|l| write(l, name, knob, text)));
        match written {
            Some(Ok(layer)) => {
                self.draft.typos.update(|t| t.retain(|e| e.field != field));
                self.draft.layers.update(|ls| {
                    if let Some(slot) = at_mut(ls, path) {
                        *slot = layer;
                    }
                });
            }
            Some(Err(message)) => self.draft.typos.update(|t| {
                t.retain(|e| e.field != field);
                t.push(FieldError { field, message });
            }),
            None => {}
        }
    }

    fn set_shortcut(self, block: usize, name: &str) {
        let Ok(new) = serde_json::from_value::<Shortcut>(serde_json::Value::from(name)) else {
            return;
        };
        self.draft.layers.update(|ls| {
            if let Some(LayerSpec::Residual { shortcut, .. }) = ls.get_mut(block) {
                *shortcut = new;
            }
        });
    }
}

/// The editor of `draft`, for the dataset `facts` describe (its input shape and classes; None
/// while unknown, when only the settings are checked) and a batch of `batch` examples (for the
/// activation memory).
#[component]
pub fn ModelEditor(
    draft: LayerDraft,
    #[prop(into)] facts: Signal<Option<DatasetFacts>>,
    #[prop(into)] batch: Signal<u32>,
) -> impl IntoView {
    let analysis = Memo::new(move |_| {
        let data = facts.with(|f| f.as_ref().map(|f| (f.shape, f.classes)));
        draft.layers.with(|ls| analyse(ls, data))
    });
    let shown = Memo::new(move |_| {
        let mut es = draft.typos.get();
        analysis.with(|a| es.extend(a.errors.iter().cloned()));
        es
    });
    let ctx = Ctx {
        draft,
        analysis,
        shown,
        generation: RwSignal::new(0),
        facts,
    };
    let outline = Memo::new(move |_| draft.layers.with(|ls| outline(ls)));
    // Problems of no one layer: an empty or too long list, a dataset that holds no values.
    let general = move || {
        shown.with(|es| {
            let found: Vec<&str> = es
                .iter()
                .filter(|e| error_path(&e.field).is_none())
                .map(|e| e.message.as_str())
                .collect();
            (!found.is_empty()).then(|| found.join("; "))
        })
    };
    view! {
        <div class="model-editor" id="model-editor">
            <div class="model-bar">
                <PresetSelect ctx/>
                <AddControls ctx outline/>
            </div>
            <Show when=move || general().is_some()>
                <p class="field-error" data-field=MODEL_LAYERS>{general}</p>
            </Show>
            <div class="model-panes">
                <div class="model-layers">
                    <LayerList ctx outline/>
                    <JsonBox ctx/>
                </div>
                <ModelTable analysis shown layers=draft.layers outline facts batch/>
            </div>
        </div>
    }
}

/// Loads a model preset, sized for the dataset's classes.
#[component]
fn PresetSelect(ctx: Ctx) -> impl IntoView {
    let load = move |ev: leptos::ev::Event| {
        let id = event_target_value(&ev);
        let classes = ctx.classes();
        if let Some(p) = model_presets(classes).into_iter().find(|p| p.id == id) {
            ctx.replace(p.model.to_layers(classes));
        }
    };
    view! {
        <label class="knob">
            <span class="knob-name">"start from"</span>
            <select id="model-preset" on:change=load>
                <option value="" selected>"a preset…"</option>
                {model_presets(10).into_iter().map(|p| view! { <option value=p.id>{p.label}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// The kind to add and where: at the end, or before a layer.
#[component]
fn AddControls(ctx: Ctx, outline: Memo<Outline>) -> impl IntoView {
    let kind = RwSignal::new("conv".to_owned());
    let place = RwSignal::new(String::new());
    let add = move |_| {
        let index = place.get_untracked().parse::<usize>().ok();
        ctx.insert(&[], index, &kind.get_untracked());
        place.set(String::new());
    };
    view! {
        <span class="add-row">
            <select id="layer-kind" aria-label="kind of layer to add" prop:value=move || kind.get()
                on:change=move |ev| kind.set(event_target_value(&ev))>
                {KINDS.iter().map(|(k, l)| view! { <option value=*k>{*l}</option> }).collect_view()}
            </select>
            <select id="layer-at" aria-label="where to add it" prop:value=move || place.get()
                on:change=move |ev| place.set(event_target_value(&ev))>
                <option value="">"at the end"</option>
                {move || outline.get().iter().enumerate().map(|(i, (k, _))| {
                    view! { <option value=i.to_string()>{format!("before {i} · {}", label(k))}</option> }
                }).collect_view()}
            </select>
            <button type="button" class="secondary small" id="add-layer" on:click=add>"Add"</button>
        </span>
    }
}

/// The layers, one row each; a residual block's layers in a list of their own inside its row.
#[component]
fn LayerList(ctx: Ctx, outline: Memo<Outline>) -> impl IntoView {
    move || {
        ctx.generation.track();
        let outline = outline.get();
        if outline.is_empty() {
            return view! { <p class="empty">"No layers yet: add one, or start from a preset."</p> }
                .into_any();
        }
        let n = outline.len();
        view! {
            <ol class="layer-list">
                {outline.into_iter().enumerate().map(|(i, (kind, inner))| layer_item(ctx, vec![i], kind, inner, n)).collect_view()}
            </ol>
        }
        .into_any()
    }
}

/// One layer's row: its index, kind, settings, output shape, the buttons, and its messages.
fn layer_item(
    ctx: Ctx,
    path: Vec<usize>,
    kind: &'static str,
    inner: Vec<&'static str>,
    siblings: usize,
) -> AnyView {
    let index = path.last().copied().unwrap_or(0);
    let name = dotted(&path);
    let whole = layer_path(&path, None);
    let p = path.clone();
    let invalid = move || ctx.shown.with(|es| marked(es, &p));
    let p = path.clone();
    let out = move || {
        ctx.analysis.with(|a| {
            output_at(&a.rows, &p)
                .map(|s| format!("→ {s}"))
                .unwrap_or_default()
        })
    };
    let p = path.clone();
    let row_msg = Signal::derive(move || ctx.shown.with(|es| row_messages(es, &p)));
    let settings = knobs(kind)
        .iter()
        .map(|&(n, k)| knob(ctx, path.clone(), n, k))
        .collect_view();
    let messages = knobs(kind)
        .iter()
        .map(|&(n, _)| message(ctx, layer_path(&path, Some(n))))
        .collect_view();
    let (up, down, gone) = (path.clone(), path.clone(), path.clone());
    let block = (kind == "residual").then(|| block_body(ctx, index, inner));
    let what = format!("{} {name}", label(kind));
    view! {
        <li class="layer" class:invalid=invalid data-layer=name.clone()>
            <div class="layer-head">
                <span class="layer-index">{name.clone()}</span>
                <span class="layer-kind">{label(kind)}</span>
                <span class="layer-knobs">{settings}</span>
                <span class="layer-out">{out}</span>
                <span class="layer-actions">
                    <button type="button" class="icon" title=format!("move {what} up") aria-label=format!("move {what} up")
                        disabled={index == 0} on:click=move |_| ctx.shift(&up, true)>"↑"</button>
                    <button type="button" class="icon" title=format!("move {what} down") aria-label=format!("move {what} down")
                        disabled={index + 1 >= siblings} on:click=move |_| ctx.shift(&down, false)>"↓"</button>
                    <button type="button" class="icon remove" title=format!("remove {what}") aria-label=format!("remove {what}")
                        on:click=move |_| ctx.remove(&gone)>"✕"</button>
                </span>
            </div>
            {messages}
            <Show when=move || row_msg.with(Option::is_some)>
                <span class="field-error" data-field=whole.clone()>{row_msg}</span>
            </Show>
            {block}
        </li>
    }
    .into_any()
}

/// The messages at one field, in a `.field-error[data-field]` while there are any.
fn message(ctx: Ctx, field: String) -> impl IntoView {
    let f = field.clone();
    let msg = Signal::derive(move || ctx.shown.with(|es| messages_at(es, &f)));
    view! {
        <Show when=move || msg.with(Option::is_some)>
            <span class="field-error" data-field=field.clone()>{msg}</span>
        </Show>
    }
}

/// One setting's input, named by its field path (`data-field`).
fn knob(ctx: Ctx, path: Vec<usize>, name: &'static str, k: Knob) -> impl IntoView {
    let field = layer_path(&path, Some(name));
    let p = path.clone();
    let value = move || {
        ctx.draft
            .layers
            .with(|ls| at(ls, &p).map(|l| read(l, name)).unwrap_or_default())
    };
    let f = field.clone();
    let invalid = move || ctx.shown.with(|es| messages_at(es, &f).is_some());
    let input = if k == Knob::Flag {
        view! {
            <input type="checkbox" data-field=field prop:checked=move || value() == "true"
                on:change=move |ev| {
                    let on = if event_target_checked(&ev) { "true" } else { "false" };
                    ctx.set_setting(&path, name, k, on);
                }/>
        }
        .into_any()
    } else {
        let (mode, placeholder) = match k {
            Knob::Real => ("decimal", ""),
            Knob::Optional => ("numeric", "= kernel"),
            _ => ("numeric", ""),
        };
        view! {
            <input type="text" inputmode=mode placeholder=placeholder data-field=field
                class:invalid=invalid prop:value=value
                on:input=move |ev| ctx.set_setting(&path, name, k, &event_target_value(&ev))/>
        }
        .into_any()
    };
    view! {
        <label class=if k == Knob::Flag { "knob flag" } else { "knob" }>
            <span class="knob-name">{name}</span>
            {input}
        </label>
    }
}

/// A residual block's shortcut, its layers and the control that adds one to it.
fn block_body(ctx: Ctx, block: usize, inner: Vec<&'static str>) -> impl IntoView {
    let field = layer_path(&[block], Some("shortcut"));
    let current = move || {
        ctx.draft.layers.with(|ls| match ls.get(block) {
            Some(LayerSpec::Residual { shortcut, .. }) => serde_json::to_value(shortcut)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            _ => String::new(),
        })
    };
    let kind = RwSignal::new("conv".to_owned());
    let n = inner.len();
    let items = inner
        .into_iter()
        .enumerate()
        .map(|(j, k)| layer_item(ctx, vec![block, j], k, Vec::new(), n))
        .collect_view();
    let shortcuts = [
        ("identity", "identity (keeps the shape)"),
        ("projection", "projection (1×1 conv + BN)"),
        ("pad", "pad (subsample, zero channels)"),
    ];
    view! {
        <div class="block-body">
            <label class="knob">
                <span class="knob-name">"shortcut"</span>
                <select data-field=field.clone() prop:value=current
                    on:change=move |ev| ctx.set_shortcut(block, &event_target_value(&ev))>
                    {shortcuts.into_iter().map(|(v, l)| view! { <option value=v selected=move || current() == v>{l}</option> }).collect_view()}
                </select>
            </label>
            {message(ctx, field)}
            <ol class="layer-list block-layers">{items}</ol>
            <span class="add-row">
                <select id=format!("block-kind-{block}") class="block-kind" aria-label="kind of layer to add to the block"
                    prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                    {BLOCK_KINDS.iter().map(|k| view! { <option value=*k>{label(k)}</option> }).collect_view()}
                </select>
                <button type="button" class="secondary small" id=format!("block-add-{block}")
                    on:click=move |_| ctx.insert(&[block], None, &kind.get_untracked())>"Add to block"</button>
            </span>
        </div>
    }
}

/// The list as JSON: shown as the rows describe it, edited and applied as a whole. A parse
/// error stays in place, with its line and column, and the list is left as it was.
#[component]
fn JsonBox(ctx: Ctx) -> impl IntoView {
    let text = RwSignal::new(ctx.draft.layers.with_untracked(|ls| pretty(ls)));
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let now = ctx.draft.layers.with(|ls| pretty(ls));
        text.set(now);
    });
    let apply = move |_| match parse_json(&text.get_untracked(), ctx.classes()) {
        Ok(layers) => {
            error.set(None);
            ctx.replace(layers);
        }
        Err(e) => error.set(Some(e)),
    };
    view! {
        <details class="spec-json model-json">
            <summary>"JSON: the list as a spec writes it (paste a list, or a whole model)"</summary>
            <textarea id="model-json" rows="14" spellcheck="false" aria-label="layer list as JSON"
                prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <button type="button" class="secondary small" id="model-json-apply" on:click=apply>"Apply"</button>
            " "
            <span class="field-error" id="model-json-error">{move || error.get()}</span>
        </details>
    }
}
