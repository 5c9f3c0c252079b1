//! The model table: a row per layer (a residual block's layers, then the block's sum, in the
//! order the network computes them) with its output shape, parameters and forward FLOPs, and
//! the totals, including what a batch's activations take in memory. Rows past a broken layer
//! have no shapes; the broken one is marked.

use experiment::{DatasetFacts, LayerSpec};
use leptos::prelude::*;
use schedule::FieldError;

use super::Outline;
use super::draft::{Analysis, dotted, grouped, label, marked, si};
use crate::components::dataset::{bytes, shape_text};

/// Bytes per stored activation: the trainer's f32.
const FLOAT_BYTES: u64 = 4;

#[component]
pub(super) fn ModelTable(
    analysis: Memo<Analysis>,
    shown: Memo<Vec<FieldError>>,
    layers: RwSignal<Vec<LayerSpec>>,
    outline: Memo<Outline>,
    facts: Signal<Option<DatasetFacts>>,
    batch: Signal<u32>,
) -> impl IntoView {
    let rows = move || {
        let mut paths: Vec<(Vec<usize>, &'static str)> = Vec::new();
        for (i, (kind, inner)) in outline.get().into_iter().enumerate() {
            paths.extend(inner.into_iter().enumerate().map(|(j, k)| (vec![i, j], k)));
            paths.push((vec![i], kind));
        }
        let shortcut = |i: usize| {
            layers.with(|ls| match ls.get(i) {
                Some(LayerSpec::Residual { shortcut, .. }) => serde_json::to_value(shortcut)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                _ => String::new(),
            })
        };
        analysis.with(|a| {
            shown.with(|es| {
                paths
                    .into_iter()
                    .map(|(path, kind)| {
                        let row = a.rows.iter().find(|r| r.path == path);
                        let what = if kind == "residual" {
                            format!("⊕ residual sum ({} shortcut)", shortcut(path[0]))
                        } else {
                            label(kind).to_owned()
                        };
                        let cell = |f: fn(&experiment::LayerRow) -> String| {
                            row.map_or_else(|| "—".to_owned(), f)
                        };
                        view! {
                            <tr data-path=dotted(&path) class:inner={path.len() > 1} class:invalid={marked(es, &path)}>
                                <td class="path">{dotted(&path)}</td>
                                <td class="kind">{what}</td>
                                <td class="shape">{cell(|r| r.output.to_string())}</td>
                                <td class="num">{cell(|r| grouped(r.params))}</td>
                                <td class="num" title=cell(|r| format!("{} FLOPs", grouped(r.flops)))>{cell(|r| si(r.flops))}</td>
                            </tr>
                        }
                    })
                    .collect_view()
            })
        })
    };
    let totals = move || analysis.with(|a| a.totals);
    let input = move || facts.with(|f| f.as_ref().map_or("?".to_owned(), |f| shape_text(f.shape)));
    let params = move || totals().map_or("—".to_owned(), |t| grouped(t.0));
    let flops = move || totals().map_or("—".to_owned(), |t| si(t.1));
    let flops_exact = move || totals().map_or(String::new(), |t| format!("{} FLOPs", grouped(t.1)));
    let memory = move || {
        totals().map_or("—".to_owned(), |t| {
            bytes(
                t.2.saturating_mul(u64::from(batch.get()))
                    .saturating_mul(FLOAT_BYTES),
            )
        })
    };
    let partial = move || analysis.with(|a| !a.complete);
    let note = move || {
        analysis.with(|a| match (a.known, a.complete) {
            (false, _) => Some("The dataset's shape is not known yet: the settings are checked, the shapes are not."),
            (true, false) => Some("Totals so far: the layers up to the marked one. Fix it to count the whole model."),
            (true, true) => None,
        })
    };
    view! {
        <div class="model-table-pane">
            <dl class="model-totals">
                <div><dt>"parameters"</dt><dd id="model-params" class:partial=partial>{params}</dd></div>
                <div><dt>"forward FLOPs per example"</dt><dd id="model-flops" class:partial=partial title=flops_exact>{flops}</dd></div>
                <div>
                    <dt>{move || format!("activations, batch of {}", batch.get())}</dt>
                    <dd id="model-memory" class:partial=partial title="stored outputs × batch × 4 bytes">{memory}</dd>
                </div>
            </dl>
            <p class="hint model-note">{note}</p>
            <div class="model-table-scroll">
                <table class="model-table" id="model-table">
                    <thead>
                        <tr><th>"#"</th><th>"layer"</th><th>"output"</th><th class="num">"parameters"</th><th class="num">"FLOPs"</th></tr>
                    </thead>
                    <tbody>
                        <tr class="input"><td></td><td class="kind">"input"</td><td class="shape">{input}</td><td></td><td></td></tr>
                        {rows}
                    </tbody>
                </table>
            </div>
        </div>
    }
}
