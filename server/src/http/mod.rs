//! The HTTP surface: JSON API, SSE streams, server functions and the server-rendered pages,
//! all behind one `router(state)` that `main` and the tests share.

mod api;
pub mod auth;
mod error;
mod lab;
mod landscape;
mod share;
mod sse;

use std::sync::Arc;

use app::api::SharedLab;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

pub use error::ApiError;

use crate::landscapes::LandscapeService;
use crate::runs::RunService;

/// Request bodies above this are refused before parsing.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub runs: Arc<RunService>,
    pub landscapes: Arc<LandscapeService>,
    pub leptos: LeptosOptions,
    /// Required on mutating requests when set (the server listens beyond loopback).
    pub admin_token: Option<Arc<str>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

pub fn router(state: AppState) -> Router {
    let lab: SharedLab = Arc::new(lab::ServiceLab(
        state.runs.clone(),
        state.landscapes.clone(),
    ));
    let routes = generate_route_list(app::App);
    let leptos = state.leptos.clone();
    // The stream route gets no compression or timeout layer: it must stay open and unbuffered.
    let api = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/login", get(auth::login))
        .route("/api/runs", post(api::create_run).get(api::list_runs))
        .route("/api/runs/{id}", get(api::get_run))
        .route("/api/runs/{id}/cancel", post(api::cancel_run))
        .route("/api/runs/{id}/resume", post(api::resume_run))
        .route("/api/runs/{id}/metrics", get(api::run_metrics))
        .route("/api/runs/{id}/events", get(sse::run_events))
        .route("/api/sweeps", post(api::create_sweep).get(api::list_sweeps))
        .route("/api/sweeps/{id}", get(api::get_sweep))
        .route("/api/sweeps/{id}/summary", get(api::sweep_summary))
        .route(
            "/api/landscapes",
            post(landscape::create).get(landscape::list),
        )
        .route("/api/landscapes/{id}", get(landscape::get))
        .route("/api/landscapes/{id}/result", get(landscape::result))
        .route("/api/landscapes/{id}/cancel", post(landscape::cancel))
        .route("/api/landscapes/{id}/events", get(landscape::events))
        .route(
            "/api/shares",
            post(share::create_share).get(share::list_shares),
        )
        .route("/api/shares/{id}/revoke", post(share::revoke_share))
        .route("/s/{token}/export", get(share::export));
    api.leptos_routes_with_context(&state, routes, move || provide_context(lab.clone()), {
        let leptos = leptos.clone();
        move || app::shell(leptos.clone())
    })
    .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
        app::shell,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        share::guard,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_admin,
    ))
    .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
    .with_state(state)
}

#[cfg(test)]
mod tests;
