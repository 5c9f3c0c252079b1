//! The schedule editor: pick a primitive (or write a composed spec as JSON), edit its knobs,
//! and see LR against step and epoch redrawn as you type, with the very code the trainer runs.

use leptos::prelude::*;
use schedule::{FieldError, Schedule};
use serde_json::{Map, Value};

use crate::api::{list_runs, list_sweeps, run_reference, sweep_reference};
use crate::chart::WhatIf;

/// How a knob is typed in and turned into JSON.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A float (learning rates, factors).
    Real,
    /// A step count; shown with its length in epochs.
    Steps,
    /// A comma-separated list of step counts.
    StepList,
    /// One of fixed words.
    Choice(&'static [&'static str]),
    Flag,
    /// A float that may be left empty.
    OptReal,
    /// A step count that may be left empty.
    OptSteps,
}

struct Knob {
    name: &'static str,
    label: &'static str,
    kind: Kind,
    default: &'static str,
}

const fn k(name: &'static str, label: &'static str, kind: Kind, default: &'static str) -> Knob {
    Knob {
        name,
        label,
        kind,
        default,
    }
}

/// Every primitive and its knobs, in the order the editor shows them.
const PRIMITIVES: &[(&str, &str, &[Knob])] = &[
    ("constant", "constant", &[k("lr", "LR", Kind::Real, "0.05")]),
    (
        "decay_at",
        "constant, then decay ×f at step k",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("decay_step", "decay at step", Kind::Steps, "5000"),
            k("factor", "factor", Kind::Real, "0.1"),
            k(
                "second_decay_step",
                "second decay at step",
                Kind::OptSteps,
                "",
            ),
            k("second_factor", "second factor", Kind::OptReal, ""),
        ],
    ),
    (
        "step",
        "step",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("step_size", "step size", Kind::Steps, "3000"),
            k("gamma", "γ", Kind::Real, "0.1"),
        ],
    ),
    (
        "multi_step",
        "multistep",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k(
                "milestones",
                "milestones (steps)",
                Kind::StepList,
                "5000, 8000",
            ),
            k("gamma", "γ", Kind::Real, "0.1"),
        ],
    ),
    (
        "exponential",
        "exponential",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("gamma", "γ", Kind::Real, "0.9995"),
        ],
    ),
    (
        "cosine",
        "cosine",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("t_max", "T_max (steps)", Kind::Steps, "10000"),
            k("eta_min", "η_min", Kind::Real, "0"),
        ],
    ),
    (
        "linear",
        "linear",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("start_factor", "start factor", Kind::Real, "1"),
            k("end_factor", "end factor", Kind::Real, "0.01"),
            k("total_iters", "iterations", Kind::Steps, "10000"),
        ],
    ),
    (
        "polynomial",
        "polynomial",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("power", "power", Kind::Real, "2"),
            k("total_iters", "iterations", Kind::Steps, "10000"),
        ],
    ),
    (
        "one_cycle",
        "one-cycle",
        &[
            k("max_lr", "max LR", Kind::Real, "0.05"),
            k("total_steps", "total steps", Kind::Steps, "10000"),
            k("pct_start", "pct_start", Kind::Real, "0.3"),
            k("anneal", "anneal", Kind::Choice(&["cos", "linear"]), "cos"),
            k("div_factor", "div factor", Kind::Real, "25"),
            k("final_div_factor", "final div factor", Kind::Real, "10000"),
            k("three_phase", "three-phase", Kind::Flag, "false"),
        ],
    ),
    (
        "cosine_warm_restarts",
        "cosine with warm restarts",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("t_0", "T_0 (steps)", Kind::Steps, "2000"),
            k("t_mult", "T_mult", Kind::Real, "2"),
            k("eta_min", "η_min", Kind::Real, "0"),
        ],
    ),
    (
        "wsd",
        "warmup-stable-decay",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("warmup_steps", "warmup steps", Kind::Steps, "500"),
            k("stable_steps", "stable steps", Kind::Steps, "7000"),
            k("decay_steps", "decay steps", Kind::Steps, "2500"),
            k(
                "cooldown",
                "cooldown",
                Kind::Choice(&["linear", "cosine", "one_minus_sqrt"]),
                "one_minus_sqrt",
            ),
            k("floor_lr", "floor LR", Kind::Real, "0"),
        ],
    ),
];

const JSON_KIND: &str = "json";

fn knobs_of(kind: &str) -> &'static [Knob] {
    PRIMITIVES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(&[], |(_, _, knobs)| knobs)
}

/// The spec the knobs describe, as JSON, or the knobs that don't parse.
fn knobs_to_json(kind: &str, values: &[(String, String)]) -> Result<Value, Vec<FieldError>> {
    let mut obj = Map::new();
    obj.insert("kind".into(), Value::String(kind.into()));
    let mut errs = Vec::new();
    for knob in knobs_of(kind) {
        let raw = values
            .iter()
            .find(|(n, _)| n == knob.name)
            .map_or("", |(_, v)| v.as_str())
            .trim();
        let bad = |msg: &str| FieldError {
            field: knob.name.into(),
            message: msg.into(),
        };
        let v = match knob.kind {
            Kind::Real | Kind::OptReal => {
                if raw.is_empty() && knob.kind == Kind::OptReal {
                    continue;
                }
                match raw.parse::<f64>() {
                    Ok(x) if x.is_finite() => serde_json::Number::from_f64(x).map(Value::Number),
                    _ => None,
                }
                .ok_or_else(|| bad("must be a finite number"))
            }
            Kind::Steps | Kind::OptSteps => {
                if raw.is_empty() && knob.kind == Kind::OptSteps {
                    continue;
                }
                raw.parse::<u64>()
                    .map(Value::from)
                    .map_err(|_| bad("must be a whole number of steps"))
            }
            Kind::StepList => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<u64>().map(Value::from))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
                .map_err(|_| bad("must be whole step numbers separated by commas")),
            Kind::Choice(_) => Ok(Value::String(raw.into())),
            Kind::Flag => Ok(Value::Bool(raw == "true")),
        };
        match v {
            Ok(v) => {
                obj.insert(knob.name.into(), v);
            }
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(Value::Object(obj))
    } else {
        Err(errs)
    }
}

/// Parses and validates a spec; errors are keyed by the spec's own field paths.
fn check(json: Value) -> Result<Schedule, Vec<FieldError>> {
    let sched: Schedule = serde_json::from_value(json).map_err(|e| {
        vec![FieldError {
            field: String::new(),
            message: e.to_string(),
        }]
    })?;
    sched.validate().map(|()| sched)
}

/// Wraps `inner` in a linear warmup when asked.
fn with_warmup(inner: Value, warmup: Option<(String, String)>) -> Result<Value, Vec<FieldError>> {
    let Some((steps, start)) = warmup else {
        return Ok(inner);
    };
    let steps = steps.trim().parse::<u64>().map_err(|_| {
        vec![FieldError {
            field: "warmup_steps".into(),
            message: "must be a whole number of steps".into(),
        }]
    })?;
    let start = start
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            vec![FieldError {
                field: "start_factor".into(),
                message: "must be a finite number".into(),
            }]
        })?;
    Ok(
        serde_json::json!({"kind": "warmup", "warmup_steps": steps, "start_factor": start, "inner": inner}),
    )
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
    let error_key = error_key.unwrap_or("schedule");
    let preview_div = preview_div.unwrap_or("lr-preview");
    let kind = RwSignal::new(initial_kind.unwrap_or("constant").to_owned());
    // Values of every knob of every primitive, so switching kinds keeps what was typed.
    let values: RwSignal<Vec<(String, String)>> = RwSignal::new(
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
            .collect(),
    );
    let warmup_on = RwSignal::new(false);
    let warmup_steps = RwSignal::new("500".to_owned());
    let warmup_start = RwSignal::new("0.01".to_owned());
    let json_text = RwSignal::new(String::new());
    let log_y = RwSignal::new(false);
    let x_epochs = RwSignal::new(false);
    let pinned = RwSignal::new(None::<(String, Schedule)>);
    let local_errors = RwSignal::new(Vec::<FieldError>::new());
    let reference = RwSignal::new(None::<WhatIf>);

    let value_of = move |name: String| {
        values.with(|v| v.iter().find(|(n, _)| *n == name).map(|(_, x)| x.clone()))
    };
    let set_value = move |name: String, x: String| {
        values.update(|v| {
            if let Some(slot) = v.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = x;
            }
        })
    };

    // Recompute the spec on every keystroke.
    Effect::new(move |_| {
        let k = kind.get();
        let result = if k == JSON_KIND {
            serde_json::from_str::<Value>(&json_text.get())
                .map_err(|e| {
                    vec![FieldError {
                        field: String::new(),
                        message: format!("not valid JSON: {e}"),
                    }]
                })
                .and_then(check)
        } else {
            let prefix = format!("{k}.");
            let vals: Vec<(String, String)> = values.with(|v| {
                v.iter()
                    .filter_map(|(n, x)| n.strip_prefix(&prefix).map(|n| (n.to_owned(), x.clone())))
                    .collect()
            });
            let warm = warmup_on
                .get()
                .then(|| (warmup_steps.get(), warmup_start.get()));
            knobs_to_json(&k, &vals)
                .and_then(|j| with_warmup(j, warm))
                .and_then(check)
        };
        match result {
            Ok(s) => {
                local_errors.set(Vec::new());
                if k != JSON_KIND {
                    json_text.set(serde_json::to_string_pretty(&s).unwrap_or_default());
                }
                schedule.set(Some(s));
            }
            Err(es) => {
                local_errors.set(es);
                schedule.set(None);
            }
        }
    });
    // Field paths as the editor shows them: a warmup wrapper puts the primitive under `inner.`.
    let shown_errors = move || {
        let mut es = local_errors.get();
        es.extend(errors.get().into_iter().filter_map(|e| {
            e.field
                .strip_prefix(format!("{error_key}.").as_str())
                .or((e.field == error_key).then_some(""))
                .map(|f| FieldError {
                    field: f.to_owned(),
                    message: e.message,
                })
        }));
        es
    };
    let error_for = move |field: &'static str| {
        move || {
            shown_errors()
                .into_iter()
                .find(|e| e.field == field || e.field == format!("inner.{field}"))
                .map(|e| e.message)
        }
    };

    crate::chart::preview_effect(crate::chart::Preview {
        div: preview_div,
        schedule,
        pinned,
        total_steps,
        steps_per_epoch,
        log_y,
        x_epochs,
        whatif: reference,
    });

    let epochs_hint = move |steps: String| {
        let spe = steps_per_epoch.get().max(1);
        steps
            .trim()
            .parse::<u64>()
            .ok()
            .map(|s| format!("= {} epochs", schedule::steps_to_epochs(s, spe)))
    };

    view! {
        <div class="schedule-editor" id=format!("{id_prefix}schedule-editor")>
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
                                <select id=id.clone() on:change=move |ev| set_value(n1.clone(), event_target_value(&ev))
                                    prop:value=move || value_of(n2.clone()).unwrap_or_default()>
                                    {options.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
                                </select>
                            }.into_any(),
                            Kind::Flag => view! {
                                <input id=id.clone() type="checkbox"
                                    prop:checked=move || value_of(n2.clone()).as_deref() == Some("true")
                                    on:change=move |ev| set_value(n1.clone(), event_target_checked(&ev).to_string())/>
                            }.into_any(),
                            _ => view! {
                                <input id=id.clone() type="text" inputmode="decimal"
                                    class:invalid=move || error_for(field)().is_some()
                                    prop:value=move || value_of(n2.clone()).unwrap_or_default()
                                    on:input=move |ev| set_value(n1.clone(), event_target_value(&ev))/>
                            }.into_any(),
                        };
                        let is_steps = matches!(knob.kind, Kind::Steps | Kind::OptSteps);
                        view! {
                            <label class="field" for=id>
                                <span class="label">{knob.label}</span>
                                {input}
                                <span class="hint">{move || if is_steps { epochs_hint(value_of(n3.clone()).unwrap_or_default()) } else { None }}</span>
                                <span class="field-error" data-field=format!("{error_key}.{field}")>{error_for(field)}</span>
                            </label>
                        }
                    }).collect_view()
                }}
            </div>
            <Show when=move || kind.get() != JSON_KIND>
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
                            <span class="field-error" data-field=format!("{error_key}.warmup_steps")>{error_for("warmup_steps")}</span>
                        </label>
                        <label class="field" for=format!("{id_prefix}sched-start_factor")>
                            <span class="label">"warmup start factor"</span>
                            <input id=format!("{id_prefix}sched-start_factor") type="text" prop:value=move || warmup_start.get()
                                on:input=move |ev| warmup_start.set(event_target_value(&ev))/>
                            <span class="field-error" data-field=format!("{error_key}.start_factor")>{error_for("start_factor")}</span>
                        </label>
                    </Show>
                </div>
            </Show>
            <details class="spec-json" open=move || kind.get() == JSON_KIND>
                <summary>"spec (JSON) — compose with sequential, warmup, …"</summary>
                <textarea id=format!("{id_prefix}sched-json") rows="8" prop:value=move || json_text.get()
                    on:input=move |ev| { json_text.set(event_target_value(&ev)); kind.set(JSON_KIND.into()); }></textarea>
                <span class="field-error" id=format!("{id_prefix}sched-json-error")>
                    {move || {
                        let known: Vec<&str> = knobs_of(&kind.get()).iter().map(|k| k.name).collect();
                        shown_errors().into_iter()
                            .filter(|e| !known.contains(&e.field.trim_start_matches("inner.")) && e.field != "warmup_steps" && e.field != "start_factor")
                            .map(|e| if e.field.is_empty() { e.message } else { format!("{}: {}", e.field, e.message) })
                            .collect::<Vec<_>>().join("; ")
                    }}
                </span>
            </details>
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

/// Picks the what-if reference: a finished sweep (its laws validated on the branches they did
/// not see) or a finished run (validated on its last 30%), and one of its laws.
#[component]
fn WhatIfPicker(
    id_prefix: &'static str,
    reference: RwSignal<Option<WhatIf>>,
    steps_per_epoch: Signal<u64>,
    total_steps: Signal<u64>,
) -> impl IntoView {
    let choices = Resource::new(
        || (),
        |_| async move {
            (
                list_sweeps().await.unwrap_or_default(),
                list_runs().await.unwrap_or_default(),
            )
        },
    );
    let source = RwSignal::new(String::new());
    let law = RwSignal::new(String::new());
    let fitted = Resource::new(
        move || source.get(),
        |src| async move {
            let (kind, id) = src.split_once(':')?;
            let id = id.parse::<i64>().ok()?;
            Some(match kind {
                "sweep" => sweep_reference(id).await,
                _ => run_reference(id).await,
            })
        },
    );
    let answer = move || fitted.get().flatten();
    Effect::new(move |_| {
        let chosen = law.get();
        let w = answer().and_then(Result::ok).and_then(|r| {
            let fit = if chosen.is_empty() {
                r.best().cloned()
            } else {
                r.fits
                    .iter()
                    .find(|f| f.law.key() == chosen && f.fit.is_some())
                    .cloned()
            }?;
            Some(WhatIf {
                source: r.label.clone(),
                fit,
            })
        });
        reference.set(w);
    });
    let status = move || -> Option<(bool, String)> {
        if source.get().is_empty() {
            return None;
        }
        Some(match answer() {
            None => (false, "Fitting…".into()),
            Some(Err(e)) => (
                true,
                format!("No prediction from this reference: {}.", e.0.error),
            ),
            Some(Ok(r)) => match reference.get() {
                None => (
                    true,
                    format!(
                        "No law could be fitted to {}: {}.",
                        r.label,
                        r.fits
                            .iter()
                            .filter_map(|f| f.error.clone())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                ),
                Some(w) => {
                    let err = w.fit.validation_rel_error;
                    let poor = err.is_none_or(|e| e > domain::prediction::POOR_REL_ERROR);
                    let scale = if r.steps_per_epoch != steps_per_epoch.get_untracked() {
                        format!(
                            " The reference has {} steps per epoch and this form {}: the prediction is read in steps.",
                            r.steps_per_epoch,
                            steps_per_epoch.get_untracked()
                        )
                    } else {
                        String::new()
                    };
                    let total = total_steps.get();
                    let beyond = if total > r.total_steps {
                        format!(
                            " This schedule runs {total} steps, past the reference's {}: beyond that the curve extrapolates.",
                            r.total_steps
                        )
                    } else {
                        String::new()
                    };
                    (
                        poor || !beyond.is_empty(),
                        format!(
                            "A prediction, not a measurement: {} ({}), fitted on {}. Held-out error {} ({}).{}{}{beyond}",
                            w.fit.label,
                            w.fit.formula,
                            r.label,
                            err.map_or("unknown".into(), |e| format!("{:.1}%", 100.0 * e)),
                            w.fit.validation,
                            if poor {
                                " This law predicts its reference badly: read the curve as a rough guess."
                            } else {
                                ""
                            },
                            scale
                        ),
                    )
                }
            },
        })
    };
    view! {
        <div class="preview-controls whatif">
            <label>"what-if: predict the test loss from "
                <select id=format!("{id_prefix}whatif-source") on:change=move |ev| source.set(event_target_value(&ev))>
                    <option value="">"(no reference)"</option>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let (sweeps, runs) = choices.await;
                            let sweeps = sweeps.into_iter().take(50).map(|s| view! {
                                <option value=format!("sweep:{}", s.id)>{format!("sweep {} · {}", s.id, s.name)}</option>
                            }).collect_view();
                            let runs = runs.into_iter().filter(|r| r.status == domain::wire::RunStatus::Completed).take(50).map(|r| view! {
                                <option value=format!("run:{}", r.id)>{format!("run {} · {}", r.id, r.name)}</option>
                            }).collect_view();
                            view! { {sweeps} {runs} }
                        })}
                    </Suspense>
                </select>
            </label>
            <label>" law "
                <select id=format!("{id_prefix}whatif-law") on:change=move |ev| law.set(event_target_value(&ev))>
                    <option value="">"best on held-out data"</option>
                    {domain::law::LawKind::ALL.iter().map(|l| view! { <option value=l.key()>{l.label()}</option> }).collect_view()}
                </select>
            </label>
            {move || status().map(|(warn, text)| view! {
                <p class=if warn { "hint whatif-warning" } else { "hint" } id=format!("{id_prefix}whatif-status")>{text}</p>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn knobs_become_a_spec() {
        let j = knobs_to_json(
            "multi_step",
            &vals(&[("lr", "0.1"), ("milestones", "10, 20"), ("gamma", "0.5")]),
        )
        .expect("parses");
        assert_eq!(
            j,
            serde_json::json!({"kind": "multi_step", "lr": 0.1, "milestones": [10, 20], "gamma": 0.5})
        );
    }

    #[test]
    fn unparsable_knobs_are_named() {
        let e = knobs_to_json(
            "step",
            &vals(&[("lr", "abc"), ("step_size", "1.5"), ("gamma", "0.1")]),
        )
        .expect_err("bad values");
        let f: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(f, vec!["lr", "step_size"]);
    }

    #[test]
    fn every_primitive_default_is_a_valid_schedule() {
        for (kind, _, knobs) in PRIMITIVES {
            let v: Vec<(String, String)> = knobs
                .iter()
                .map(|k| (k.name.to_owned(), k.default.to_owned()))
                .collect();
            let json = knobs_to_json(kind, &v).expect("defaults parse");
            assert!(check(json).is_ok(), "{kind} defaults must validate");
        }
    }

    /// Every variant serde knows, read from its own "unknown variant" message, so the list
    /// is the enum's and cannot drift from it.
    fn schedule_variants() -> Vec<String> {
        let err = serde_json::from_value::<schedule::Schedule>(serde_json::json!({"kind": "?"}))
            .expect_err("no such variant");
        let msg = err.to_string();
        let list = msg
            .split("expected one of ")
            .nth(1)
            .expect("serde lists the variants");
        list.split(',')
            .map(|v| v.trim().trim_matches('`').to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    #[test]
    fn every_schedule_variant_is_in_the_editor() {
        // The two compositions wrap other schedules: warmup is the editor's checkbox around any
        // primitive, and a sequential schedule is written in the JSON mode.
        let composed = ["warmup", "sequential"];
        let variants = schedule_variants();
        assert!(variants.len() >= 10, "parsed {variants:?}");
        for v in &variants {
            assert!(
                composed.contains(&v.as_str()) || PRIMITIVES.iter().any(|(k, _, _)| k == v),
                "Schedule variant `{v}` has no entry in the editor's PRIMITIVES"
            );
        }
        for (kind, _, _) in PRIMITIVES {
            assert!(
                variants.iter().any(|v| v == kind),
                "`{kind}` is not a Schedule variant"
            );
        }
    }

    #[test]
    fn every_schedule_field_has_a_knob() {
        for (kind, _, knobs) in PRIMITIVES {
            // Every knob set, optional ones too, so serialising back shows every field.
            let v: Vec<(String, String)> = knobs
                .iter()
                .map(|k| {
                    let value = match (k.kind, k.default) {
                        (Kind::OptSteps, "") => "9000",
                        (Kind::OptReal, "") => "0.01",
                        (_, d) => d,
                    };
                    (k.name.to_owned(), value.to_owned())
                })
                .collect();
            let json = knobs_to_json(kind, &v).expect("defaults parse");
            let parsed: schedule::Schedule = serde_json::from_value(json).expect("a schedule");
            let back = serde_json::to_value(&parsed).expect("serialises");
            let mut fields: Vec<&str> = back
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "kind")
                .collect();
            let mut names: Vec<&str> = knobs.iter().map(|k| k.name).collect();
            fields.sort_unstable();
            names.sort_unstable();
            assert_eq!(
                fields, names,
                "`{kind}`: the form's knobs and the type's fields differ"
            );
        }
    }
}
