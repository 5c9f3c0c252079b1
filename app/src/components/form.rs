//! Form plumbing every form shares: routing a creating action's answer (field errors beside
//! their inputs, anything else in a failure line), a field's message, and the small inputs (a
//! text field for numbers, a select) bound to string signals.

use domain::wire::FieldError;
use leptos::prelude::*;

/// Routes the answer of a form's creating action: the new thing back to the caller (to open its
/// page), field errors to `fields` (to show beside their inputs), any other refusal into the
/// form's `failure` line.
pub fn answered<T>(
    result: Result<T, crate::api::Refusal>,
    fields: impl FnOnce(Vec<FieldError>),
    failure: RwSignal<Option<String>>,
) -> Option<T> {
    match result {
        Ok(created) => Some(created),
        Err(e) if !e.0.field_errors().is_empty() => {
            fields(e.field_errors());
            None
        }
        Err(e) => {
            failure.set(Some(e.to_string()));
            None
        }
    }
}

/// The message for `field`, shown under its input.
#[component]
pub fn FieldMessage(errors: RwSignal<Vec<FieldError>>, field: &'static str) -> impl IntoView {
    let msg = move || {
        errors.with(|es| {
            es.iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone())
        })
    };
    view! {
        <Show when=move || msg().is_some()>
            <span class="field-error" data-field=field>{msg}</span>
        </Show>
    }
}

/// One numeric input, bound to a string signal so half-typed values survive.
#[component]
pub fn NumField(
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    errors: RwSignal<Vec<FieldError>>,
    #[prop(optional)] hint: &'static str,
) -> impl IntoView {
    let id = format!("f-{}", field.replace('.', "-"));
    let invalid = move || errors.with(|es| es.iter().any(|e| e.field == field));
    let label_for = id.clone();
    view! {
        <label class="field" for=label_for>
            <span class="label">{label}</span>
            <input
                id=id
                name=field
                type="text"
                inputmode="decimal"
                class:invalid=invalid
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <span class="hint">{hint}</span>
            <FieldMessage errors field/>
        </label>
    }
}

/// A select whose options are (value, label) pairs, bound to a string signal; the chosen
/// option carries `selected`, so a server-rendered page shows the choice before hydration.
#[component]
pub fn ChoiceField(
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    options: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    let id = format!("f-{}", field.replace('.', "-"));
    let label_for = id.clone();
    view! {
        <label class="field" for=label_for>
            <span class="label">{label}</span>
            <select id=id name=field on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
                {options.iter().map(|(v, l)| view! { <option value=*v selected=move || value.with(|c| c == v)>{*l}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// A select whose (value, label) options are known only at run time (the datasets a server
/// holds), bound to a string signal. The chosen option carries `selected`, so a server-rendered
/// page shows the choice before hydration.
#[component]
pub fn SelectField(
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    options: Vec<(String, String)>,
    #[prop(optional, into)] hint: MaybeProp<String>,
) -> impl IntoView {
    let id = format!("f-{}", field.replace('.', "-"));
    let label_for = id.clone();
    view! {
        <label class="field" for=label_for>
            <span class="label">{label}</span>
            <select id=id name=field on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
                {options.into_iter().map(|(v, l)| {
                    let chosen = v.clone();
                    view! { <option value=v selected=move || value.with(|c| *c == chosen)>{l}</option> }
                }).collect_view()}
            </select>
            <span class="hint">{move || hint.get()}</span>
        </label>
    }
}
