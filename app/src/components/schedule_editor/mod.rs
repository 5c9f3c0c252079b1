//! The schedule editor: pick a primitive (or write a composed spec as JSON), edit its knobs,
//! and see LR against step and epoch redrawn as you type, with the very code the trainer runs.
//! `knobs` holds the primitives and turns typed values into a spec, `preview` draws the curve,
//! `whatif` picks a fitted loss law to predict the test loss of the schedule being designed.

mod knobs;
pub mod preview;
mod whatif;

use leptos::prelude::*;
use schedule::{FieldError, Schedule};
use serde_json::Value;

use knobs::{JSON_KIND, Kind, PRIMITIVES, check, knobs_of, knobs_to_json, with_warmup};
pub use preview::WhatIf;
use preview::{Preview, preview_effect};
use whatif::WhatIfPicker;

/// One editor's state, shared by its sections.
#[derive(Clone, Copy)]
struct Editor {
    id_prefix: &'static str,
    /// The spec path its errors arrive under.
    error_key: &'static str,
    /// The primitive's name, or `JSON_KIND`.
    kind: RwSignal<String>,
    /// Values of every knob of every primitive (`<kind>.<knob>`), so switching kinds keeps
    /// what was typed.
    values: RwSignal<Vec<(String, String)>>,
    warmup_on: RwSignal<bool>,
    warmup_steps: RwSignal<String>,
    warmup_start: RwSignal<String>,
    json_text: RwSignal<String>,
    /// The problems the editor found itself, keyed by the spec's own paths.
    local_errors: RwSignal<Vec<FieldError>>,
    /// The server's problems, keyed as the server keys them (`<error_key>.<path>`).
    errors: RwSignal<Vec<FieldError>>,
    steps_per_epoch: Signal<u64>,
}

impl Editor {
    fn value_of(self, name: &str) -> Option<String> {
        self.values
            .with(|v| v.iter().find(|(n, _)| n == name).map(|(_, x)| x.clone()))
    }

    fn set_value(self, name: &str, x: String) {
        self.values.update(|v| {
            if let Some(slot) = v.iter_mut().find(|(n, _)| n == name) {
                slot.1 = x;
            }
        })
    }

    /// The spec the inputs describe, or what is wrong with them.
    fn parse(self) -> Result<Schedule, Vec<FieldError>> {
        let k = self.kind.get();
        if k == JSON_KIND {
            return serde_json::from_str::<Value>(&self.json_text.get())
                .map_err(|e| {
                    vec![FieldError {
                        field: String::new(),
                        message: format!("not valid JSON: {e}"),
                    }]
                })
                .and_then(check);
        }
        let prefix = format!("{k}.");
        let vals: Vec<(String, String)> = self.values.with(|v| {
            v.iter()
                .filter_map(|(n, x)| n.strip_prefix(&prefix).map(|n| (n.to_owned(), x.clone())))
                .collect()
        });
        let warm = self
            .warmup_on
            .get()
            .then(|| (self.warmup_steps.get(), self.warmup_start.get()));
        knobs_to_json(&k, &vals)
            .and_then(|j| with_warmup(j, warm))
            .and_then(check)
    }

    /// Every problem, with field paths as the editor shows them.
    fn shown_errors(self) -> Vec<FieldError> {
        let key = self.error_key;
        let mut es = self.local_errors.get();
        es.extend(self.errors.get().into_iter().filter_map(|e| {
            e.field
                .strip_prefix(format!("{key}.").as_str())
                .or((e.field == key).then_some(""))
                .map(|f| FieldError {
                    field: f.to_owned(),
                    message: e.message,
                })
        }));
        es
    }

    /// The message for a knob; a warmup wrapper puts the primitive under `inner.`.
    fn error_for(self, field: &'static str) -> impl Fn() -> Option<String> + Copy {
        move || {
            self.shown_errors()
                .into_iter()
                .find(|e| e.field == field || e.field == format!("inner.{field}"))
                .map(|e| e.message)
        }
    }

    /// "= 2.5 epochs" beside a step count.
    fn epochs_hint(self, steps: &str) -> Option<String> {
        let spe = self.steps_per_epoch.get().max(1);
        steps
            .trim()
            .parse::<u64>()
            .ok()
            .map(|s| format!("= {} epochs", schedule::steps_to_epochs(s, spe)))
    }
}

/// The editor. `schedule` holds the last valid spec (None while the form is invalid);
/// `errors` holds the current problems keyed as the server keys them (`schedule.<path>`).
#[component]
pub fn ScheduleEditor(
    schedule: RwSignal<Option<Schedule>>,
    errors: RwSignal<Vec<FieldError>>,
    #[prop(into)] total_steps: Signal<u64>,
    #[prop(into)] steps_per_epoch: Signal<u64>,
    #[prop(optional)] initial_kind: Option<&'static str>,
    /// Prefix for every element id, so two editors can share a page.
    #[prop(optional)]
    id_prefix: &'static str,
    /// The spec path its errors arrive under (default `schedule`).
    #[prop(optional)]
    error_key: Option<&'static str>,
    /// The div the preview draws in (default `lr-preview`).
    #[prop(optional)]
    preview_div: Option<&'static str>,
    /// Starting value of every `lr` knob.
    #[prop(optional)]
    initial_lr: Option<&'static str>,
    /// Offer the what-if preview: a loss law fitted on a finished run or sweep, drawn for the
    /// schedule being designed.
    #[prop(optional)]
    whatif: bool,
) -> impl IntoView {
    let preview_div = preview_div.unwrap_or("lr-preview");
    let ed = Editor {
        id_prefix,
        error_key: error_key.unwrap_or("schedule"),
        kind: RwSignal::new(initial_kind.unwrap_or("constant").to_owned()),
        values: RwSignal::new(initial_values(initial_lr)),
        warmup_on: RwSignal::new(false),
        warmup_steps: RwSignal::new("500".to_owned()),
        warmup_start: RwSignal::new("0.01".to_owned()),
        json_text: RwSignal::new(String::new()),
        local_errors: RwSignal::new(Vec::new()),
        errors,
        steps_per_epoch,
    };
    let log_y = RwSignal::new(false);
    let x_epochs = RwSignal::new(false);
    let pinned = RwSignal::new(None::<(String, Schedule)>);
    let reference = RwSignal::new(None::<WhatIf>);

    // Recompute the spec on every keystroke.
    Effect::new(move |_| match ed.parse() {
        Ok(s) => {
            ed.local_errors.set(Vec::new());
            if ed.kind.get() != JSON_KIND {
                ed.json_text
                    .set(serde_json::to_string_pretty(&s).unwrap_or_default());
            }
            schedule.set(Some(s));
        }
        Err(es) => {
            ed.local_errors.set(es);
            schedule.set(None);
        }
    });
    preview_effect(Preview {
        div: preview_div,
        schedule,
        pinned,
        total_steps,
        steps_per_epoch,
        log_y,
        x_epochs,
        whatif: reference,
    });

    view! {
        <div class="schedule-editor" id=format!("{id_prefix}schedule-editor")>
            <KnobFields ed/>
            <Show when=move || ed.kind.get() != JSON_KIND>
                <WarmupFields ed/>
            </Show>
            <JsonSpec ed/>
            <div class="preview-controls">
                <label><input id=format!("{id_prefix}preview-log") type="checkbox" prop:checked=move || log_y.get()
                    on:change=move |ev| log_y.set(event_target_checked(&ev))/>" log y"</label>
                <label><input id=format!("{id_prefix}preview-epochs") type="checkbox" prop:checked=move || x_epochs.get()
                    on:change=move |ev| x_epochs.set(event_target_checked(&ev))/>" x in epochs"</label>
                <button type="button" class="secondary" id=format!("{id_prefix}preview-pin")
                    disabled=move || schedule.get().is_none()
                    on:click=move |_| if let Some(s) = schedule.get_untracked() { pinned.set(Some((s.describe(), s))) }>
                    "Pin for comparison"
                </button>
                <Show when=move || pinned.get().is_some()>
                    <button type="button" class="secondary" id=format!("{id_prefix}preview-unpin") on:click=move |_| pinned.set(None)>"Clear comparison"</button>
                </Show>
                <span class="hint" id=format!("{id_prefix}preview-summary")>{move || schedule.get().map(|s| s.describe())}</span>
            </div>
            {whatif.then(|| view! { <WhatIfPicker id_prefix reference steps_per_epoch total_steps/> })}
            <div class="chart preview" id=preview_div></div>
        </div>
    }
}

/// Every knob of every primitive at its default (`initial_lr` for every `lr`), keyed
/// `<kind>.<knob>`.
fn initial_values(initial_lr: Option<&'static str>) -> Vec<(String, String)> {
    PRIMITIVES
        .iter()
        .flat_map(|(kind, _, knobs)| {
            knobs.iter().map(move |k| {
                let v = if k.name == "lr" {
                    initial_lr.unwrap_or(k.default)
                } else {
                    k.default
                };
                (format!("{kind}.{}", k.name), v.to_owned())
            })
        })
        .collect()
}

/// The primitive picker and the chosen primitive's knobs, each with its hint and message.
#[component]
fn KnobFields(ed: Editor) -> impl IntoView {
    let Editor {
        id_prefix,
        error_key,
        kind,
        ..
    } = ed;
    view! {
        <div class="grid">
            <label class="field" for=format!("{id_prefix}sched-kind")>
                <span class="label">"schedule"</span>
                <select id=format!("{id_prefix}sched-kind") on:change=move |ev| kind.set(event_target_value(&ev)) prop:value=move || kind.get()>
                    {PRIMITIVES.iter().map(|(k, label, _)| view! { <option value=*k>{*label}</option> }).collect_view()}
                    <option value=JSON_KIND>"composed (JSON spec)"</option>
                </select>
            </label>
            {move || {
                let k = kind.get();
                knobs_of(&k).iter().map(|knob| {
                    let name = format!("{k}.{}", knob.name);
                    let id = format!("{id_prefix}sched-{}", knob.name);
                    let field = knob.name;
                    let n1 = name.clone();
                    let n2 = name.clone();
                    let n3 = name.clone();
                    let input = match knob.kind {
                        Kind::Choice(options) => view! {
                            <select id=id.clone() on:change=move |ev| ed.set_value(&n1, event_target_value(&ev))
                                prop:value=move || ed.value_of(&n2).unwrap_or_default()>
                                {options.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
                            </select>
                        }.into_any(),
                        Kind::Flag => view! {
                            <input id=id.clone() type="checkbox"
                                prop:checked=move || ed.value_of(&n2).as_deref() == Some("true")
                                on:change=move |ev| ed.set_value(&n1, event_target_checked(&ev).to_string())/>
                        }.into_any(),
                        _ => view! {
                            <input id=id.clone() type="text" inputmode="decimal"
                                class:invalid=move || ed.error_for(field)().is_some()
                                prop:value=move || ed.value_of(&n2).unwrap_or_default()
                                on:input=move |ev| ed.set_value(&n1, event_target_value(&ev))/>
                        }.into_any(),
                    };
                    let is_steps = matches!(knob.kind, Kind::Steps | Kind::OptSteps);
                    view! {
                        <label class="field" for=id>
                            <span class="label">{knob.label}</span>
                            {input}
                            <span class="hint">{move || if is_steps { ed.epochs_hint(&ed.value_of(&n3).unwrap_or_default()) } else { None }}</span>
                            <span class="field-error" data-field=format!("{error_key}.{field}")>{ed.error_for(field)}</span>
                        </label>
                    }
                }).collect_view()
            }}
        </div>
    }
}

/// The optional linear warmup around the primitive.
#[component]
fn WarmupFields(ed: Editor) -> impl IntoView {
    let Editor {
        id_prefix,
        error_key,
        warmup_on,
        warmup_steps,
        warmup_start,
        ..
    } = ed;
    view! {
        <div class="grid">
            <label class="field inline" for=format!("{id_prefix}sched-warmup")>
                <span class="label">"linear warmup"</span>
                <input id=format!("{id_prefix}sched-warmup") type="checkbox" prop:checked=move || warmup_on.get()
                    on:change=move |ev| warmup_on.set(event_target_checked(&ev))/>
            </label>
            <Show when=move || warmup_on.get()>
                <label class="field" for=format!("{id_prefix}sched-warmup_steps")>
                    <span class="label">"warmup steps"</span>
                    <input id=format!("{id_prefix}sched-warmup_steps") type="text" prop:value=move || warmup_steps.get()
                        on:input=move |ev| warmup_steps.set(event_target_value(&ev))/>
                    <span class="field-error" data-field=format!("{error_key}.warmup_steps")>{ed.error_for("warmup_steps")}</span>
                </label>
                <label class="field" for=format!("{id_prefix}sched-start_factor")>
                    <span class="label">"warmup start factor"</span>
                    <input id=format!("{id_prefix}sched-start_factor") type="text" prop:value=move || warmup_start.get()
                        on:input=move |ev| warmup_start.set(event_target_value(&ev))/>
                    <span class="field-error" data-field=format!("{error_key}.start_factor")>{ed.error_for("start_factor")}</span>
                </label>
            </Show>
        </div>
    }
}

/// The spec as JSON: shown as the knobs describe it, and edited directly for a composed
/// schedule; problems no knob shows are listed under it.
#[component]
fn JsonSpec(ed: Editor) -> impl IntoView {
    let Editor {
        id_prefix,
        kind,
        json_text,
        ..
    } = ed;
    view! {
        <details class="spec-json" open=move || kind.get() == JSON_KIND>
            <summary>"spec (JSON) — compose with sequential, warmup, …"</summary>
            <textarea id=format!("{id_prefix}sched-json") rows="8" prop:value=move || json_text.get()
                on:input=move |ev| { json_text.set(event_target_value(&ev)); kind.set(JSON_KIND.into()); }></textarea>
            <span class="field-error" id=format!("{id_prefix}sched-json-error")>
                {move || {
                    let known: Vec<&str> = knobs_of(&kind.get()).iter().map(|k| k.name).collect();
                    ed.shown_errors().into_iter()
                        .filter(|e| !known.contains(&e.field.trim_start_matches("inner.")) && e.field != "warmup_steps" && e.field != "start_factor")
                        .map(|e| if e.field.is_empty() { e.message } else { format!("{}: {}", e.field, e.message) })
                        .collect::<Vec<_>>().join("; ")
                }}
            </span>
        </details>
    }
}
