//! The what-if picker under the schedule editor: a finished sweep or run as the reference, one
//! of its fitted loss laws, and in words how far to trust the predicted curve.

use leptos::prelude::*;

use super::preview::WhatIf;
use crate::api::{list_runs, list_sweeps, run_reference, sweep_reference};
use domain::prediction::ReferenceLaw;

/// Picks the what-if reference: a finished sweep (its laws validated on the branches they did
/// not see) or a finished run (validated on its last 30%), and one of its laws.
#[component]
pub(super) fn WhatIfPicker(
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
                Some(w) => caveats(&w, &r, steps_per_epoch.get_untracked(), total_steps.get()),
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

/// What a fitted reference says about the schedule being designed, and whether to warn: a law
/// that predicted its own held-out data badly, a different step scale, or a schedule longer
/// than the reference (where the curve extrapolates).
fn caveats(w: &WhatIf, r: &ReferenceLaw, steps_per_epoch: u64, total: u64) -> (bool, String) {
    let err = w.fit.validation_rel_error;
    let poor = err.is_none_or(|e| e > domain::prediction::POOR_REL_ERROR);
    let scale = if r.steps_per_epoch != steps_per_epoch {
        format!(
            " The reference has {} steps per epoch and this form {}: the prediction is read in steps.",
            r.steps_per_epoch, steps_per_epoch
        )
    } else {
        String::new()
    };
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
