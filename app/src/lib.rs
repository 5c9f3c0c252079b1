//! Anneal's Leptos UI: the HTML shell and routes (here), the pages, the components they are
//! built from, and the server functions they call. Rendered on the server (`ssr`) and hydrated
//! in the browser (`hydrate`); it never depends on Burn or the server's storage.
//!
//! Layout, each layer importing only the ones below it:
//! - `pages`: one module per route; a page fetches its data and lays out components. Pages
//!   never import each other.
//! - `components`: the shared widgets (charts and the one palette, the schedule editor, form
//!   fields, the landscape launcher and maps, branch statistics, run config, the Share button).
//! - `api`: one server function per operation of `domain::Lab`.

// Deeply nested `view!` types (the sweep and shared pages) outgrow the default of 128.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The whole HTML document; the server renders it around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:,"/>
                // A classic blocking script, so `window.Plotly` exists before hydration runs.
                <script src="/plotly.min.js"></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/anneal.css"/>
        <Title text="Anneal"/>
        <Router>
            <header class="topbar">
                <A href="/">"Anneal"</A>
                <span class="tagline">"when should the learning rate come down?"</span>
                <A href="/compare" attr:class="nav">"compare"</A>
                <A href="/landscapes" attr:class="nav">"landscapes"</A>
                <A href="/datasets" attr:class="nav">"datasets"</A>
                <A href="/shares" attr:class="nav">"share links"</A>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="notfound">"Page not found."</p> }>
                    <Route path=path!("") view=pages::home::HomePage/>
                    <Route path=path!("/runs/:id") view=pages::run::RunPage/>
                    <Route path=path!("/sweeps/:id") view=pages::sweep::SweepPage/>
                    <Route path=path!("/compare") view=pages::compare::ComparePage/>
                    <Route path=path!("/landscapes") view=pages::landscape::LandscapesPage/>
                    <Route path=path!("/landscapes/:id") view=pages::landscape::LandscapePage/>
                    <Route path=path!("/shares") view=pages::shares::SharesPage/>
                    <Route path=path!("/datasets") view=pages::datasets::DatasetsPage/>
                    <Route path=path!("/datasets/:name") view=pages::datasets::DatasetPage/>
                    // Async: the whole page, data included, is in the first response, so it
                    // reads without JavaScript and link previews see the Open Graph tags.
                    <Route path=path!("/s/:token") view=pages::share::SharePage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Lets end-to-end tests wait for interactivity instead of sleeping.
    if let Some(w) = web_sys::window() {
        let _ = js_sys::Reflect::set(&w, &"__anneal_hydrated".into(), &true.into());
    }
}
