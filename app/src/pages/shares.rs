//! The owner's share links: what each opens, when it expires, and revoking it.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{RevokeShare, list_shares};
use crate::components::format::{format_ms, now_ms};
use domain::wire::ShareKind;

/// The owner's list of links, with revoke.
#[component]
pub fn SharesPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeShare>::new();
    let shares = Resource::new(move || revoke.version().get(), |_| list_shares());
    view! {
        <Title text="Share links · Anneal"/>
        <section class="card">
            <h1>"Share links"</h1>
            <p class="meta">"Each link opens a frozen, read-only copy of a result. Revoking one makes it answer 404 at once."</p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match shares.await {
                        Ok(list) if list.is_empty() => view! { <p>"No links yet: use Share on a run or a sweep."</p> }.into_any(),
                        Ok(list) => {
                            let now = now_ms();
                            view! {
                                <table class="runs" id="shares">
                                    <thead><tr><th>"link"</th><th>"of"</th><th>"created"</th><th>"expires"</th><th>"state"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|s| {
                                            let id = s.id;
                                            let state = if s.revoked_at_ms.is_some() { "revoked" } else if s.is_active(now) { "active" } else { "expired" };
                                            let target = match s.kind {
                                                ShareKind::Run => format!("/runs/{}", s.target_id),
                                                ShareKind::Sweep => format!("/sweeps/{}", s.target_id),
                                                ShareKind::Landscape => format!("/landscapes/{}", s.target_id),
                                            };
                                            view! {
                                                <tr data-share=id>
                                                    <td>{format!("#{id}")}</td>
                                                    <td><a href=target>{s.title.clone()}</a></td>
                                                    <td>{format_ms(s.created_at_ms)}</td>
                                                    <td>{s.expires_at_ms.map_or("never".into(), format_ms)}</td>
                                                    <td class="share-state">{state}</td>
                                                    <td>{(state == "active").then(|| view! {
                                                        <button class="secondary revoke" on:click=move |_| { revoke.dispatch(RevokeShare { id }); }>"Revoke"</button>
                                                    })}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
