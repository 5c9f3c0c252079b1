//! The Share button of a run, sweep or landscape page: freezes the result behind a new
//! read-only link, with an optional expiry, and shows the link once.

use leptos::prelude::*;

use crate::api::CreateShare;
use domain::wire::{ShareKind, ShareRequest};

/// "Share": freezes the result behind a new link, shown once with its optional expiry.
#[component]
pub fn ShareButton(kind: ShareKind, id: i64) -> impl IntoView {
    let action = ServerAction::<CreateShare>::new();
    let hours = RwSignal::new(String::new());
    let reply = move || action.value().get();
    view! {
        <div class="share-box">
            <label>"expires after "
                <select id="share-expiry" on:change=move |ev| hours.set(event_target_value(&ev))>
                    <option value="">"never (until revoked)"</option>
                    <option value="24">"1 day"</option>
                    <option value="168">"7 days"</option>
                    <option value="720">"30 days"</option>
                </select>
            </label>
            " "
            <button id="share" class="secondary" on:click=move |_| {
                let expires_in_hours = hours.get_untracked().parse().ok();
                action.dispatch(CreateShare { req: ShareRequest { kind, id, expires_in_hours } });
            }>"Share"</button>
            {move || match reply() {
                Some(Ok(c)) => view! {
                    <p class="share-link">
                        "Read-only link (shown once): "
                        <a id="share-url" href=c.url.clone() target="_blank" rel="noreferrer">{c.url.clone()}</a>
                        " · " <a href="/shares">"manage links"</a>
                    </p>
                }.into_any(),
                Some(Err(e)) if !e.0.field_errors().is_empty() => view! {
                    <p class="form-error">{e.0.field_errors().iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")}</p>
                }.into_any(),
                Some(Err(e)) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                None => ().into_any(),
            }}
        </div>
    }
}
