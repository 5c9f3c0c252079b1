//! The launch form's small input components: a text field for numbers and a select.

use domain::wire::FieldError;
use leptos::prelude::*;

use crate::pages::FieldMessage;

/// One numeric input, bound to a string signal so half-typed values survive.
#[component]
pub(super) fn NumField(
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

/// A select whose options are (value, label) pairs, bound to a string signal.
#[component]
pub(super) fn ChoiceField(
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
                {options.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
            </select>
        </label>
    }
}
